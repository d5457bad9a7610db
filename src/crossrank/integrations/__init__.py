"""crossrank inside the RAG frameworks, in-process: a LangChain document compressor, a LlamaIndex node
postprocessor and a Haystack ranker component. Each module imports its framework only when imported itself."""
