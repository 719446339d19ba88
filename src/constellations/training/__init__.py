"""Training with the sigmoid loss: the batched trainer (:mod:`.trainer`), the frozen-modality SOCP
(:mod:`.frozen`), the paper's synthetic studies (:mod:`.reproduce`)."""
