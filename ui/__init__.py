"""Streamlit helpers shared by the pages: caching, page chrome and charts."""
