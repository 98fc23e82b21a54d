"""Hub cards: `semhub profile` (one model) and `semhub compare` (several)."""
