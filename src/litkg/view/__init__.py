"""Seeing and using the graph (issue 15): the HTML report with plots (`report`, `plots`), the
entity explorer and its JSON API (`serve`), exports for networkx / Neo4j / JSON lines
(`export`), the change log as sentences (`changelog`) and retrieval for RAG prompts (`rag`).

Everything here reads a store through `litkg.open(home)` (read-only) and SQL over its catalog;
queries of more than a few lines are files in `litkg/sql/view/`.
"""
