"""Each framework's own retriever feeds the crossrank component: the documents come out in `Reranker.rerank`'s
order with its scores in the framework's usual place, `top_n` / `top_k` honoured, metadata kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank import Reranker
from tests.tiny_models import CORPUS

QUERY = "supersonic flow over a wing"


def expected(reranker: Reranker, texts: list[str], top: int) -> list[tuple[str, float]]:
    return [(texts[r.index], r.score) for r in reranker.rerank(QUERY, texts, top_k=top)]


def test_langchain_compressor_after_a_vector_store_retriever(tiny_bert: Path, cache_dir: Path) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.vectorstores import InMemoryVectorStore

    from crossrank.integrations.langchain import CrossrankCompressor

    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents([Document(page_content=t, metadata={"n": i}) for i, t in enumerate(CORPUS)])
    retrieved = store.as_retriever(search_kwargs={"k": len(CORPUS)}).invoke(QUERY)
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    out = CrossrankCompressor(reranker=reranker, top_n=4).compress_documents(retrieved, QUERY)
    texts = [d.page_content for d in retrieved]
    assert [(d.page_content, d.metadata["relevance_score"]) for d in out] == expected(reranker, texts, 4)
    assert all(d.metadata["n"] == CORPUS.index(d.page_content) for d in out)


def test_llamaindex_postprocessor_after_a_vector_index_retriever(tiny_bert: Path, cache_dir: Path) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.schema import TextNode

    from crossrank.integrations.llamaindex import CrossrankPostprocessor

    nodes = [TextNode(text=t, metadata={"n": i}, excluded_embed_metadata_keys=["n"]) for i, t in enumerate(CORPUS)]
    index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))
    retrieved = index.as_retriever(similarity_top_k=len(CORPUS)).retrieve(QUERY)
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    out = CrossrankPostprocessor(reranker=reranker, top_n=4).postprocess_nodes(retrieved, query_str=QUERY)
    texts = [n.node.get_content() for n in retrieved]
    assert [(n.node.get_content(), n.score) for n in out] == expected(reranker, texts, 4)
    assert all(n.node.metadata["n"] == CORPUS.index(n.node.get_content()) for n in out)


def test_haystack_ranker_in_a_pipeline_after_bm25(tiny_bert: Path, cache_dir: Path) -> None:
    pytest.importorskip("haystack")
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from crossrank.integrations.haystack import CrossrankRanker

    store = InMemoryDocumentStore()
    store.write_documents([Document(content=t, meta={"n": i}) for i, t in enumerate(CORPUS)])
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    pipeline = Pipeline()
    pipeline.add_component("bm25", InMemoryBM25Retriever(store, top_k=len(CORPUS)))
    pipeline.add_component("rerank", CrossrankRanker(reranker, top_k=4))
    pipeline.connect("bm25.documents", "rerank.documents")
    result = pipeline.run({"bm25": {"query": QUERY}, "rerank": {"query": QUERY}}, include_outputs_from={"bm25"})
    texts = [d.content for d in result["bm25"]["documents"]]
    out = result["rerank"]["documents"]
    assert [(d.content, d.score) for d in out] == expected(reranker, texts, 4)
    assert all(d.meta["n"] == CORPUS.index(d.content) for d in out)


def test_each_adapter_returns_every_document_through_a_cascade_and_honours_the_cuts(
    tiny_bert: Path, cache_dir: Path
) -> None:
    """Without a top-n every retrieved document comes back (a cascade too); min_score and max_tokens cut."""
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    pytest.importorskip("haystack")
    from haystack import Document as HaystackDocument
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode

    from crossrank.integrations.haystack import CrossrankRanker
    from crossrank.integrations.langchain import CrossrankCompressor
    from crossrank.integrations.llamaindex import CrossrankPostprocessor

    cascade = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=2, cascade_length=32)
    full = [(CORPUS[r.index], r.score) for r in cascade.rerank(QUERY, CORPUS)]
    assert len(full) == len(CORPUS)
    lang = CrossrankCompressor(reranker=cascade, top_n=None)
    out = lang.compress_documents([Document(page_content=t) for t in CORPUS], QUERY)
    assert [(d.page_content, d.metadata["relevance_score"]) for d in out] == full
    llama = CrossrankPostprocessor(reranker=cascade, top_n=None)
    nodes = llama.postprocess_nodes([NodeWithScore(node=TextNode(text=t)) for t in CORPUS], query_str=QUERY)
    assert [(n.node.get_content(), n.score) for n in nodes] == full
    hay = CrossrankRanker(cascade, top_k=None).run(QUERY, [HaystackDocument(content=t) for t in CORPUS])
    assert [(d.content, d.score) for d in hay["documents"]] == full
    threshold = full[3][1]
    kept = [pair for pair in full if pair[1] >= threshold]
    lang = CrossrankCompressor(reranker=cascade, top_n=None, min_score=threshold)
    assert [d.page_content for d in lang.compress_documents([Document(page_content=t) for t in CORPUS], QUERY)] == [
        t for t, _ in kept
    ]
    budget = sum(cascade.count_tokens([t for t, _ in full[:2]]))
    hay = CrossrankRanker(cascade, top_k=None, max_tokens=budget).run(
        QUERY, [HaystackDocument(content=t) for t in CORPUS]
    )
    assert [d.content for d in hay["documents"]] == [t for t, _ in full[:2]]


def test_a_haystack_pipeline_serialises_after_it_ran(tiny_bert: Path, cache_dir: Path) -> None:
    """warm_up loads the model without replacing the init parameter, so `Pipeline.dumps()` still works."""
    pytest.importorskip("haystack")
    from haystack import Document, Pipeline

    from crossrank.integrations.haystack import CrossrankRanker

    pipeline = Pipeline()
    pipeline.add_component("rerank", CrossrankRanker(top_k=2, ranked_input=True))
    before = pipeline.dumps()
    pipeline.warm_up()
    assert pipeline.dumps() == before
    ranker = pipeline.get_component("rerank")
    assert isinstance(ranker, CrossrankRanker) and ranker.reranker is None
    out = ranker.run(QUERY, [Document(content=t) for t in CORPUS])["documents"]
    assert len(out) == 2 and pipeline.dumps() == before
    assert "ranked_input: true" in before
    restored = Pipeline.loads(before, allowed_modules=["crossrank.integrations.haystack"]).get_component("rerank")
    assert isinstance(restored, CrossrankRanker) and restored.ranked_input and restored.top_k == 2
