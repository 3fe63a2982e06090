"""The shopper feed and recommender models: training, evaluation, A/B tests, bandits."""
