"""Model Zoo: the Streamlit entry point (``streamlit run app.py``)."""

import streamlit as st

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/compare.py", title="Compare", icon="🔍", url_path="compare"),
]
st.navigation(pages).run()
