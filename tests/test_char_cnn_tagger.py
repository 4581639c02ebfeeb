"""course_pkg.models.char_cnn_tagger: the character features against a loop written here, padding
independence, the word-only baseline, word dropout, overfitting a tiny batch, bad input."""

import pytest
import torch
import torch.nn.functional as F

from course_pkg.batching import masked_cross_entropy
from course_pkg.data.entity_tagging import entity_tagging, span_f1
from course_pkg.models.char_cnn_tagger import CharCNNTagger

WORDS, CHARS, TAGS = 20, 12, 5



def make(**kwargs):
    torch.manual_seed(0)
    return CharCNNTagger(WORDS, CHARS, TAGS, word_dim=6, char_dim=4, char_filters=5,
                         hidden_size=7, **kwargs).double()


def ids(*shape, high, seed):
    return torch.randint(1, high, shape, generator=torch.Generator().manual_seed(seed))


def test_char_features_are_the_max_of_the_convolution_over_each_words_characters():
    model = make()
    chars = ids(3, 2, 6, high=CHARS, seed=1)
    chars[0, 1, 4:] = 0                                         # a word of 4 characters
    chars[2, 0, :] = 0                                          # a padding token
    z = model.char_features(chars)
    assert z.shape == (3, 2, 5)
    weight, bias = model.char_conv.weight, model.char_conv.bias   # (F, E_c, k), (F,)
    for t in range(3):
        for b in range(2):
            word = chars[t, b][chars[t, b] > 0]
            if len(word) == 0:
                torch.testing.assert_close(z[t, b], torch.zeros(5, dtype=torch.float64))
                continue
            e = model.char_embedding.weight[word]                # (n, E_c)
            padded = torch.cat([torch.zeros(1, 4, dtype=torch.float64), e,
                                torch.zeros(1, 4, dtype=torch.float64)])
            windows = [padded[j:j + 3].T for j in range(len(word))]   # (E_c, k) each
            responses = torch.stack([(weight * w).sum(dim=(1, 2)) + bias for w in windows])
            torch.testing.assert_close(z[t, b], responses.max(dim=0).values)


def test_features_do_not_depend_on_the_padding_of_the_batch():
    model = make()
    model.eval()
    words, chars = ids(4, 3, high=WORDS, seed=2), ids(4, 3, 5, high=CHARS, seed=3)
    longer = torch.cat([chars, torch.zeros(4, 3, 4, dtype=torch.int64)], dim=2)
    with torch.no_grad():
        torch.testing.assert_close(model(words, chars), model(words, longer))


def test_padded_batch_with_lengths_equals_each_sentence_alone():
    model = make()
    model.eval()
    words, chars = ids(5, 3, high=WORDS, seed=4), ids(5, 3, 4, high=CHARS, seed=5)
    lengths = torch.tensor([5, 2, 3])
    for b, n in enumerate(lengths.tolist()):
        words[n:, b], chars[n:, b] = 0, 0
    with torch.no_grad():
        scores = model(words, chars, lengths)
        for b, n in enumerate(lengths.tolist()):
            alone = model(words[:n, b:b + 1], chars[:n, b:b + 1])
            torch.testing.assert_close(scores[:n, b:b + 1], alone)
            assert torch.all(scores[n:, b] == 0)


def test_word_only_baseline_ignores_characters():
    model = make(use_chars=False)
    assert not hasattr(model, "char_conv")
    assert model.recurrent.input_size == 6
    words = ids(4, 2, high=WORDS, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(model(words), model(words, ids(4, 2, 3, high=CHARS, seed=7)))
    assert make().recurrent.input_size == 6 + 5


def test_word_dropout_only_in_training_and_only_real_words():
    model = make(word_dropout=1.0)                              # every real word becomes <unk>
    words, chars = ids(4, 2, high=WORDS, seed=8), ids(4, 2, 3, high=CHARS, seed=9)
    words[3, 1] = 0
    unk = torch.full_like(words, 1)
    unk[3, 1] = 0
    model.train()
    with torch.no_grad():
        torch.testing.assert_close(model(words, chars), model(unk, chars))
        model.eval()
        assert (model(words, chars) - model(unk, chars)).abs().max() > 1e-6


@pytest.mark.parametrize("use_chars", [True, False])
def test_can_overfit_a_tiny_batch_of_tagged_sentences(use_chars):
    data = entity_tagging(16, "train", seed=0)
    vocab = data.vocabularies
    torch.manual_seed(1)
    model = CharCNNTagger(len(vocab.words), len(vocab.chars), len(vocab.tags), word_dim=16,
                          char_filters=16, hidden_size=24, use_chars=use_chars)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        optimizer.zero_grad()
        loss = masked_cross_entropy(model(data.words, data.chars, data.lengths), data.tags,
                                    data.mask)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.02
    model.eval()
    with torch.no_grad():
        predicted = data.decode_tags(model(data.words, data.chars, data.lengths).argmax(-1))
    assert span_f1(data.tag_sequences, predicted).f1 == 1.0


def test_gradients_reach_the_character_embeddings():
    model = make()
    words, chars = ids(3, 2, high=WORDS, seed=10), ids(3, 2, 4, high=CHARS, seed=11)
    model(words, chars).sum().backward()
    assert model.char_embedding.weight.grad.abs().sum() > 0
    assert torch.all(model.char_embedding.weight.grad[0] == 0)     # padding_idx stays put


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="char_kernel_size: expected an odd"):
        CharCNNTagger(WORDS, CHARS, TAGS, char_kernel_size=2)
    with pytest.raises(ValueError, match="num_tags"):
        CharCNNTagger(WORDS, CHARS, 0)
    with pytest.raises(ValueError, match="word_dropout"):
        CharCNNTagger(WORDS, CHARS, TAGS, word_dropout=1.5)
    with pytest.raises(ValueError, match="unk_id"):
        CharCNNTagger(WORDS, CHARS, TAGS, unk_id=WORDS)
    model = make()
    words, chars = ids(3, 2, high=WORDS, seed=12), ids(3, 2, 4, high=CHARS, seed=13)
    with pytest.raises(ValueError, match="chars: expected character ids"):
        model(words)
    with pytest.raises(ValueError, match=r"chars: expected shape \(3, 2, L\)"):
        model(words, chars[:2])
    with pytest.raises(TypeError, match="words: expected integer ids"):
        model(words.double(), chars)
    with pytest.raises(ValueError, match=r"words: expected ids in \[0, 19\]"):
        model(words + WORDS, chars)
    with pytest.raises(ValueError, match="chars: expected a 3-D"):
        model(words, chars[..., 0])
    with pytest.raises(ValueError, match="lengths: expected values in"):
        model(words, chars, torch.tensor([4, 1]))
    with pytest.raises(ValueError, match="lengths: expected 2 integer lengths"):
        model(words, chars, torch.tensor([3]))
    assert F.softmax(model(words, chars), -1).shape == (3, 2, TAGS)
