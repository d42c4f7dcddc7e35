#!/usr/bin/python3
"""Writes the inputs of bert_model.pbtxt for a batch of two sequences.

  /usr/bin/python3 make_inputs.py   (numpy only; writes beside itself)

Row 0: [CLS]=2 A [SEP]=3 B [SEP] filling all 12 positions; row 1: 8
tokens, then padding (attention_mask 0). Two masked positions in row 0,
one in row 1 (the third slot is padding: weight 0). Row 1's B is random
(next_sentence_labels 1).
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

input_ids = np.array([[2, 11, 12, 13, 14, 3, 21, 22, 23, 24, 25, 3],
                      [2, 31, 32, 3, 41, 42, 43, 3, 0, 0, 0, 0]], np.int64)
token_type_ids = np.array([[0] * 6 + [1] * 6,
                           [0] * 4 + [1] * 4 + [0] * 4], np.int64)
attention_mask = np.array([[1] * 12, [1] * 8 + [0] * 4], np.int64)
masked_lm_positions = np.array([[2, 8, 0], [5, 0, 0]], np.int64)
masked_lm_ids = np.array([[12, 23, 0], [42, 0, 0]], np.int64)
masked_lm_weights = np.array([[1, 1, 0], [1, 0, 0]], np.float32)
next_sentence_labels = np.array([0, 1], np.int64)

for name in ("input_ids", "token_type_ids", "attention_mask",
             "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
             "next_sentence_labels"):
    np.save(os.path.join(HERE, name + ".npy"), globals()[name])
