"""Plugins that ship inside semhub and load like external ones (simonw/llm's DEFAULT_PLUGINS): the text spoke,
the embedded models, the multilingual sample and the steering scorers."""
