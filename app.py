"""augviz: the entry point. `streamlit run app.py` serves every page from here."""

import streamlit as st
import torch

from augviz.ui.common import freeze_imports

# One thread per preview: sessions already run side by side in the server's threads, and on a busy machine an
# intra-op parallel region waits for its slowest thread (in the browser on 2 cores: slider p50 356 ms with two
# threads, 246 ms with one).
torch.set_num_threads(1)
st.set_page_config(page_title="augviz", page_icon=":material/auto_awesome_mosaic:", layout="wide")

pages = [
    st.Page("pages/explore.py", title="Explore", icon=":material/photo_library:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/stacked_line_chart:"),
    st.Page("pages/gradients.py", title="Gradients", icon=":material/stacked_bar_chart:"),
]
st.navigation(pages).run()
freeze_imports()  # after the first run, when the pages' imports are loaded
