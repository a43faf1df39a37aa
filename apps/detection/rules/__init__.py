"""Customer rules: ``parser`` turns rule text into the JSON tree stored on a rule; ``evaluator`` runs it."""
