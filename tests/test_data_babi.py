"""bAbI-style task-1 stories (course_pkg.data.babi): the answers are re-derived from the text."""

import pytest
import torch

from course_pkg.data.babi import (
    ACTORS,
    PAD,
    PLACES,
    SENTENCE_WIDTH,
    VERBS,
    VOCABULARY,
    BabiStory,
    decode_words,
    encode_stories,
    encode_words,
    flatten_stories,
    generate_stories,
    tokenize,
)


def parse(sentence):
    """'Mary went back to the kitchen.' -> ('Mary', 'went back to', 'kitchen'), by hand."""
    words = sentence.rstrip(".").split(" ")
    assert words[-2] == "the"
    return words[0], " ".join(words[1:-2]), words[-1]


def test_answers_and_supporting_facts_follow_the_text():
    stories = generate_stories(200, min_sentences=1, max_sentences=8, seed=0)
    lengths = set()
    for story in stories:
        lengths.add(len(story.sentences))
        assert story.question.startswith("Where is ") and story.question.endswith("?")
        actor = story.question[len("Where is ") : -1]
        latest_place, latest_index = None, None
        for index, sentence in enumerate(story.sentences):
            who, verb, place = parse(sentence)
            assert who in ACTORS and verb in VERBS and place in PLACES
            if who == actor:
                latest_place, latest_index = place, index
        assert latest_place is not None  # the question is about someone in the story
        assert story.answer == latest_place and story.supporting_fact == latest_index
    assert lengths == set(range(1, 9))


def test_stories_use_every_actor_place_and_verb():
    stories = generate_stories(100, seed=1)
    parsed = [parse(s) for story in stories for s in story.sentences]
    assert {p[0] for p in parsed} == set(ACTORS)
    assert {p[1] for p in parsed} == set(VERBS)
    assert {p[2] for p in parsed} == set(PLACES)
    # the answer is often not the actor's first place: the latest move must be found
    assert sum(story.supporting_fact != min(i for i, s in enumerate(story.sentences)
                                            if parse(s)[0] == story.question[9:-1])
               for story in stories) > 20


def test_same_seed_same_stories():
    assert generate_stories(5, seed=7) == generate_stories(5, seed=7)
    assert generate_stories(5, seed=7) != generate_stories(5, seed=8)


def test_vocabulary_and_word_encoding():
    assert VOCABULARY[PAD] == "<pad>" and len(set(VOCABULARY)) == len(VOCABULARY)
    for word in ["john", "mary", "sandra", "daniel", *PLACES, "went", "back", "journeyed",
                 "moved", "travelled", "to", "the", "where", "is"]:
        assert word in VOCABULARY
    words = tokenize("Daniel travelled to the office.")
    assert words == ["daniel", "travelled", "to", "the", "office"]
    assert decode_words(encode_words(words)) == "daniel travelled to the office"
    with pytest.raises(ValueError, match="kitchens"):
        encode_words(["kitchens"])


def test_encode_stories_layout():
    stories = [
        BabiStory(("John went to the kitchen.", "Mary went back to the garden.",
                   "John moved to the office."), "Where is John?", "office", 2),
        BabiStory(("Sandra journeyed to the hallway.",), "Where is Sandra?", "hallway", 0),
    ]
    batch = encode_stories(stories)
    assert batch.stories.shape == (2, 3, 6)  # 3 sentences, 6 words at most
    assert batch.questions.shape == (2, 3)
    assert decode_words(batch.stories[0, 1]) == "mary went back to the garden"
    assert batch.stories[0, 0, 5].item() == PAD  # a 5-word sentence padded to 6
    assert torch.all(batch.stories[1, 1:] == PAD)  # missing sentences are padding
    assert decode_words(batch.questions[1]) == "where is sandra"
    assert [VOCABULARY[i] for i in batch.answers.tolist()] == ["office", "hallway"]
    assert batch.supporting.tolist() == [2, 0] and batch.lengths.tolist() == [3, 1]
    assert encode_stories(stories, max_sentences=5).stories.shape == (2, 5, 6)
    # every batch has the same sentence width, whatever its longest sentence
    (short,) = stories[1:]
    assert encode_stories([short]).stories.shape == (1, 1, SENTENCE_WIDTH) == (1, 1, 6)
    assert encode_stories([short], sentence_width=9).stories.shape == (1, 1, 9)

    tokens, lengths = flatten_stories(batch)
    assert tokens.shape == (5 + 6 + 5 + 3, 2)  # time-major
    assert lengths.tolist() == [19, 8]
    assert decode_words(tokens[:, 1]) == "sandra journeyed to the hallway where is sandra"
    assert torch.all(tokens[8:, 1] == PAD)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_sentences"):
        generate_stories(3, min_sentences=4, max_sentences=2)
    with pytest.raises(ValueError, match="^n: "):
        generate_stories(0)
    stories = generate_stories(3, min_sentences=5, max_sentences=5)
    with pytest.raises(ValueError, match="max_sentences"):
        encode_stories(stories, max_sentences=4)
    with pytest.raises(ValueError, match="stories"):
        encode_stories([])
    with pytest.raises(ValueError, match=r"sentence_width: expected >= the longest sentence "
                                         r"\(6 words\), got 5"):
        encode_stories(stories, sentence_width=5)
