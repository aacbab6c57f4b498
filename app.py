"""Model Zoo: the Streamlit entry point and Home page (``streamlit run app.py``).

What Model Zoo does, and whether the weights are there. The other pages live in ``pages/``.
"""

import streamlit as st

from model_zoo.registry import MODELS, ModelSpec
from model_zoo.weights import ENV_VAR, WeightsSource, keras_cache_dir
from model_zoo.wording import model_count
from ui.common import page_setup, show_readiness

source = page_setup("Home", "🏠")
_names = " and ".join(", ".join(s.display_name for s in MODELS.values()).rsplit(", ", 1))

st.title("🦁 Model Zoo")
st.markdown(
    f"Learn and demo image classification with {model_count()} classic ImageNet networks "
    f"from Keras: **{_names}**.\n\n"
    "1. **Compare** — give a photo (upload, camera or one of the examples) and see every "
    "model's top-5 side by side, how fast each is, and where they agree.\n"
    "2. **Fine-tune** — teach one of these networks your own classes from a zip of "
    "folders, watch it learn, judge it honestly and download a model that reloads anywhere; "
    "or run a **leaderboard** of every backbone and head on your data, side by side."
)
st.page_link("pages/compare.py", label="Open Compare", icon="🔍")
st.page_link("pages/finetune.py", label="Open Fine-tune", icon="🎓")

st.subheader("The models")
rows = [
    {
        "Model": s.display_name,
        "Year": s.year,
        "Input": f"{s.input_size}×{s.input_size}",
        "Parameters": f"{s.params_m:.1f} M",
        "Size": f"{s.size_mb} MB",
        "ImageNet top-1": f"{s.top1:.1%}",
        "ImageNet top-5": f"{s.top5:.1%}",
    }
    for s in MODELS.values()
]
st.dataframe(rows, hide_index=True)
st.caption("Figures from the Keras applications table (keras.io/api/applications).")
if source is not None:
    st.markdown("**Ready for Compare** (they load in the background when the server starts)")
    show_readiness()

st.subheader("Weights")
if source is not None:
    st.write(source.describe())
    if not source.is_random:

        def present(spec: ModelSpec, notop: bool, source: WeightsSource = source) -> str:
            path = source.local_file(spec, notop=notop)
            return "✅" if path is not None and path.is_file() else "missing"

        status = [
            {
                "Model": s.display_name,
                "Compare file": s.weights_file,
                "Here": present(s, False),
                "Fine-tune file (headless)": s.weights_file_notop,
                "Here ": present(s, True),
            }
            for s in MODELS.values()
        ]
        st.dataframe(status, hide_index=True)
        if source.kind == "imagenet":
            st.caption(
                f"Missing files are downloaded by Keras into {keras_cache_dir()} the "
                "first time a model is used. Without internet, copy them there or into "
                f"a folder and set `{ENV_VAR}=/path/to/folder`."
            )
