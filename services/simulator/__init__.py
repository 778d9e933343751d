"""OpenAI-compatible model simulator for development and tests (`conclave sim serve`)."""
