"""Every lens: the logit lens (logit.py), the tuned lens (tuned.py), the kinds --lens picks (kinds.py),
the one read-out at (layer, position) sites (sites.py), token-set scores (token_sets.py), lens quality
(quality.py), and training a tuned lens (fit.py: the optimisation; training.py: semhub.train_lens)."""
