"""Training and evaluation of TextLens's models (the ``train`` extra; never run by the server)."""
