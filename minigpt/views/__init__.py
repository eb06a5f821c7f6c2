"""Pure builders that turn traces into what a page shows: plotly figures, DataFrames, HTML, downloads.
No Streamlit here. One module per subject:

    style      fonts, colours, layout, axes, colour bars; VALIDATE (plotly's property checks, on in tests)
    labels     how tokens and numbers are written: `"3 ␣the"`, `"␣the #279"`, `"42.0%"`, `"3 min 05 s"`
    heatmaps   any 2-D array, any stage's slice (stage_slice / stage_heatmap), a block's heads, two compared
    embedding  the positional table's curves and the similarity of positions
    attention  attention as lines (bertviz's head view)
    output     next-token bars, the loss at each position, generation candidates, p(true next token)
    training   the loss curves and attention snapshots of the Train page; its UI strings (tr)
    chips      tokens as coloured HTML chips (ids, or the probability they were sampled with)
    tables     DataFrames: top-k per position, LayerNorm statistics, prediction changes, inputs and targets
    export     plotly_config (the camera button), CSV and .npy of the numbers behind a view

The numbers some of them draw (losses, statistics, estimates) are computed in minigpt.analysis.
"""
