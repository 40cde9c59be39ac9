"""The VQA pool stage: merge external sources, decontaminate, degrade the enhancement subset."""
