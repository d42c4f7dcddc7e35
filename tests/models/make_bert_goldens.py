#!/usr/bin/python3
"""Writes the BERT goldens in testdata/bert/.

Run with Debian's python3-torch and python3-numpy, from any directory:
  /usr/bin/python3 make_bert_goldens.py

A BertForPreTraining written by hand in PyTorch (Hugging Face's
transformers is not packaged), in float64, following HF's modeling_bert:
embeddings (word + position + token type, LayerNorm, dropout), post-LN
layers with separate query/key/value Linears and the additive mask
(1 - attention_mask) * -10000, the pooler (dense + tanh on token 0), the
MLM head (dense, activation, LayerNorm, decoder tied to the word
embeddings plus cls.predictions.bias) over *every* position with labels
-100 except at the masked positions whose weight is 1, as HF computes it,
and the NSP head. Dropout 0. V 50, H 16, A 2, L 2, ff 32, S 12, P 3, B 3,
max_position_embeddings 16, type_vocab_size 2, layer_norm_eps 1e-12.

Files in testdata/bert/:
  hf/<name>.npy        the state_dict of the model, as HF saves it: every
                       parameter, the tied cls.predictions.decoder.weight
                       and .bias, and the buffer bert.embeddings.position_ids
                       (weights drawn at random, larger than BERT's 0.02 so
                       that every term matters); hf/config.json.
  <input>.npy          the seven graph inputs (rows padded: lengths 12, 9, 6;
                       masked_lm_weights 1 1 1 / 1 1 0 / 1 0 0).
  <case>_<output>.npy  sequence_output, pooled_output, mlm_logits (the full
                       scores taken at masked_lm_positions), nsp_logits, loss.
  <case>_d_<name>.npy  d loss / d parameter, for every parameter.
  <case>_d_word_lookup.npy, <case>_d_word_decoder.npy: the word embeddings'
                       gradient through the lookup alone and through the
                       decoder alone (an untied copy each); the tied
                       gradient is their sum.
Cases: gelu (erf, hidden_act "gelu") and gelu_new (the tanh form).

And the sequence(-pair) classifier, BertForSequenceClassification with
num_labels 3 (the same embeddings, layers and pooler, then dropout 0 and
classifier.weight [3, H], classifier.bias on the pooled output; the loss is
the mean cross-entropy against labels [B]), drawn from its own generator so
that the files above stay as they were. In testdata/bert/classify/:
  hf/<name>.npy        its state_dict (bert.* and classifier.*), hf/config.json.
  labels.npy           i64 [B]; the other inputs are ../input_ids.npy,
                       ../token_type_ids.npy and ../attention_mask.npy.
  <case>_<output>.npy  sequence_output, pooled_output, logits, loss.
  <case>_d_<name>.npy  d loss / d parameter.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                   "bert")
V, H, A, L, FF, S, P, B = 50, 16, 2, 2, 32, 12, 3, 3
MAX_POS, TYPES, EPS = 16, 2, 1e-12


NUM_LABELS = 3
CLASSIFY = os.path.join(OUT, "classify")


def parameter_shapes(classifier=False):
    shapes = [("bert.embeddings.word_embeddings.weight", (V, H)),
              ("bert.embeddings.position_embeddings.weight", (MAX_POS, H)),
              ("bert.embeddings.token_type_embeddings.weight", (TYPES, H)),
              ("bert.embeddings.LayerNorm.weight", (H,)),
              ("bert.embeddings.LayerNorm.bias", (H,))]

    def linear(module, out, inp):
        shapes.extend([(module + ".weight", (out, inp)),
                       (module + ".bias", (out,))])

    def norm(module):
        shapes.extend([(module + ".weight", (H,)), (module + ".bias", (H,))])

    for i in range(L):
        l = "bert.encoder.layer.%d" % i
        for m in ("query", "key", "value"):
            linear("%s.attention.self.%s" % (l, m), H, H)
        linear(l + ".attention.output.dense", H, H)
        norm(l + ".attention.output.LayerNorm")
        linear(l + ".intermediate.dense", FF, H)
        linear(l + ".output.dense", H, FF)
        norm(l + ".output.LayerNorm")
    linear("bert.pooler.dense", H, H)
    if classifier:
        linear("classifier", NUM_LABELS, H)
        return shapes
    shapes.append(("cls.predictions.bias", (V,)))
    linear("cls.predictions.transform.dense", H, H)
    norm("cls.predictions.transform.LayerNorm")
    linear("cls.seq_relationship", 2, H)
    return shapes


def random_parameters(gen, classifier=False):
    params = {}
    for name, shape in parameter_shapes(classifier):
        r = torch.randn(shape, generator=gen, dtype=torch.float64)
        if "LayerNorm.weight" in name:
            value = 1 + 0.1 * r
        elif name.endswith("bias"):
            value = 0.1 * r
        else:
            value = 0.3 * r
        params[name] = value.requires_grad_()
    return params


def inputs(gen):
    lengths = [12, 9, 6]
    ids = torch.zeros(B, S, dtype=torch.int64)
    types = torch.zeros(B, S, dtype=torch.int64)
    mask = torch.zeros(B, S, dtype=torch.int64)
    positions = torch.zeros(B, P, dtype=torch.int64)
    labels = torch.zeros(B, P, dtype=torch.int64)
    weights = torch.zeros(B, P, dtype=torch.float64)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(1, V, (n,), generator=gen)
        types[b, n // 2:n] = 1
        mask[b, :n] = 1
        chosen = torch.randperm(n - 1, generator=gen)[:P - b] + 1
        positions[b, :P - b] = torch.sort(chosen).values
        labels[b, :P - b] = torch.randint(0, V, (P - b,), generator=gen)
        weights[b, :P - b] = 1
    nsp = torch.tensor([0, 1, 1], dtype=torch.int64)
    return dict(input_ids=ids, token_type_ids=types, attention_mask=mask,
                masked_lm_positions=positions, masked_lm_ids=labels,
                masked_lm_weights=weights, next_sentence_labels=nsp)


def act(x, case):
    return F.gelu(x, approximate="tanh" if case == "gelu_new" else "none")


def encoder(p, x, case, word_lookup):
    """The embeddings, layers and pooler: sequence_output, pooled_output."""
    def linear(module, h):
        return F.linear(h, p[module + ".weight"], p[module + ".bias"])

    def norm(module, h):
        return F.layer_norm(h, (H,), p[module + ".weight"], p[module + ".bias"],
                            EPS)

    e = "bert.embeddings."
    h = (F.embedding(x["input_ids"], word_lookup) +
         p[e + "position_embeddings.weight"][torch.arange(S)][None] +
         F.embedding(x["token_type_ids"], p[e + "token_type_embeddings.weight"]))
    h = norm(e + "LayerNorm", h)
    extended = (1.0 - x["attention_mask"].to(h.dtype))[:, None, None, :] * -10000.0
    d = H // A
    for i in range(L):
        l = "bert.encoder.layer.%d" % i

        def heads(t):
            return t.view(B, S, A, d).permute(0, 2, 1, 3)

        q = heads(linear(l + ".attention.self.query", h))
        k = heads(linear(l + ".attention.self.key", h))
        v = heads(linear(l + ".attention.self.value", h))
        scores = q @ k.transpose(-1, -2) / np.sqrt(d) + extended
        context = (torch.softmax(scores, -1) @ v).permute(0, 2, 1, 3)
        context = context.reshape(B, S, H)
        attn = norm(l + ".attention.output.LayerNorm",
                    linear(l + ".attention.output.dense", context) + h)
        inter = act(linear(l + ".intermediate.dense", attn), case)
        h = norm(l + ".output.LayerNorm",
                 linear(l + ".output.dense", inter) + attn)
    pooled = torch.tanh(linear("bert.pooler.dense", h[:, 0]))
    return h, pooled


def forward(p, x, case, word_lookup, word_decoder):
    def linear(module, h):
        return F.linear(h, p[module + ".weight"], p[module + ".bias"])

    def norm(module, h):
        return F.layer_norm(h, (H,), p[module + ".weight"], p[module + ".bias"],
                            EPS)

    h, pooled = encoder(p, x, case, word_lookup)
    t = "cls.predictions.transform."
    transformed = norm(t + "LayerNorm",
                       act(linear(t + "dense", h), case))
    scores = F.linear(transformed, word_decoder, p["cls.predictions.bias"])
    nsp_logits = linear("cls.seq_relationship", pooled)
    # HF's labels: -100 everywhere except the masked positions with weight 1.
    labels = torch.full((B, S), -100, dtype=torch.int64)
    for b in range(B):
        for j in range(P):
            if x["masked_lm_weights"][b, j] > 0:
                labels[b, x["masked_lm_positions"][b, j]] = \
                    x["masked_lm_ids"][b, j]
    mlm_loss = F.cross_entropy(scores.view(-1, V), labels.view(-1))
    nsp_loss = F.cross_entropy(nsp_logits, x["next_sentence_labels"])
    mlm_logits = torch.stack(
        [scores[b, x["masked_lm_positions"][b]] for b in range(B)])
    return dict(sequence_output=h, pooled_output=pooled,
                mlm_logits=mlm_logits, nsp_logits=nsp_logits,
                loss=mlm_loss + nsp_loss)


def save(name, value, out=OUT):
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    value = np.array(value)  # C order; unlike ascontiguousarray, keeps 0-d
    np.save(os.path.join(out, name + ".npy"), value)


def classify(x, config):
    """BertForSequenceClassification's goldens, from generator 17."""
    os.makedirs(os.path.join(CLASSIFY, "hf"), exist_ok=True)
    gen = torch.Generator().manual_seed(17)
    p = random_parameters(gen, classifier=True)
    labels = torch.randint(0, NUM_LABELS, (B,), generator=gen)
    for name, value in p.items():
        save("hf/" + name, value, CLASSIFY)
    config = dict(config, architectures=["BertForSequenceClassification"],
                  id2label={str(i): "LABEL_%d" % i for i in range(NUM_LABELS)},
                  label2id={"LABEL_%d" % i: i for i in range(NUM_LABELS)},
                  classifier_dropout=None)
    with open(os.path.join(CLASSIFY, "hf", "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    save("labels", labels, CLASSIFY)
    for case in ("gelu", "gelu_new"):
        h, pooled = encoder(p, x, case,
                            p["bert.embeddings.word_embeddings.weight"])
        logits = F.linear(pooled, p["classifier.weight"], p["classifier.bias"])
        loss = F.cross_entropy(logits, labels)
        grads = torch.autograd.grad(loss, list(p.values()))
        out = dict(sequence_output=h, pooled_output=pooled, logits=logits,
                   loss=loss)
        for name, value in out.items():
            save("%s_%s" % (case, name), value, CLASSIFY)
        for name, g in zip(p.keys(), grads):
            save("%s_d_%s" % (case, name), g, CLASSIFY)
        print("classify", case, "loss", loss.item())


def main():
    os.makedirs(os.path.join(OUT, "hf"), exist_ok=True)
    gen = torch.Generator().manual_seed(16)
    p = random_parameters(gen)
    x = inputs(gen)
    word = "bert.embeddings.word_embeddings.weight"
    for name, value in p.items():
        save("hf/" + name, value)
    save("hf/cls.predictions.decoder.weight", p[word])
    save("hf/cls.predictions.decoder.bias", p["cls.predictions.bias"])
    save("hf/bert.embeddings.position_ids", torch.arange(MAX_POS)[None])
    config = dict(architectures=["BertForPreTraining"], model_type="bert",
                  vocab_size=V, hidden_size=H, num_hidden_layers=L,
                  num_attention_heads=A, intermediate_size=FF,
                  hidden_act="gelu", max_position_embeddings=MAX_POS,
                  type_vocab_size=TYPES, layer_norm_eps=EPS,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                  initializer_range=0.02, pad_token_id=0)
    with open(os.path.join(OUT, "hf", "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    for name, value in x.items():
        save(name, value)
    for case in ("gelu", "gelu_new"):
        out = forward(p, x, case, p[word], p[word])
        grads = torch.autograd.grad(out["loss"], list(p.values()))
        for name, value in out.items():
            save("%s_%s" % (case, name), value)
        for name, g in zip(p.keys(), grads):
            save("%s_d_%s" % (case, name), g)
        lookup = p[word].detach().clone().requires_grad_()
        decoder = p[word].detach().clone().requires_grad_()
        untied = forward(p, x, case, lookup, decoder)
        d_lookup, d_decoder = torch.autograd.grad(untied["loss"],
                                                  [lookup, decoder])
        save(case + "_d_word_lookup", d_lookup)
        save(case + "_d_word_decoder", d_decoder)
        tied = dict(zip(p.keys(), grads))[word]
        assert torch.allclose(tied, d_lookup + d_decoder, rtol=0, atol=1e-12)
        print(case, "loss", out["loss"].item())
    classify(x, config)


if __name__ == "__main__":
    main()
