"""Rasa custom actions served by `python -m rasa_sdk --actions support.rasa_actions` (the `actions` service in
docker-compose). The actions themselves arrive with the customer-service work; until then the server runs with none."""
