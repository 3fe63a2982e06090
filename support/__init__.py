"""AI customer service: Rasa custom actions, the built-in assistant, conversations, tickets, sentiment."""
