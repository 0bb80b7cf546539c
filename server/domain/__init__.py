"""The TextLens domain: entities, analyzers and errors, in plain Python."""
