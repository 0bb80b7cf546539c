"""TextLens server: text analysis (sentiment, quality, emotion) over gRPC."""
