"""The report's plots: Vega-Lite charts (altair) rendered to SVG without a browser
(vl-convert), so the report is one self-contained file with no script to run. Each function
takes plain polars data and returns an SVG string."""

from __future__ import annotations

import altair as alt
import polars as pl
import vl_convert

STATUS_COLOURS = {"active": "#2b8a3e", "contested": "#e8590c", "retracted": "#868e96"}
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def svg(chart: alt.TopLevelMixin) -> str:
    """A chart as inline SVG (no XML declaration)."""
    chart = chart.configure(font=FONT).configure_view(strokeWidth=0)
    return vl_convert.vegalite_to_svg(chart.to_json())


def growth(snapshots: pl.DataFrame) -> str:
    """Documents and entities per day (cumulative, as of each day)."""
    data = snapshots.select("day", "documents", "entities").unpivot(
        index="day", variable_name="series", value_name="count")
    return svg(alt.Chart(data, title="Documents and entities").mark_line(point=True).encode(
        x=alt.X("day:T", title=None), y=alt.Y("count:Q", title=None),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=["day:T", "series:N", "count:Q"],
    ).properties(width=380, height=200))


def edges_by_status(snapshots: pl.DataFrame) -> str:
    """Active, contested and retracted edges per day."""
    data = snapshots.select(
        "day", pl.col("active_edges").alias("active"),
        pl.col("contested_edges").alias("contested"),
        pl.col("retracted_edges").alias("retracted"),
    ).unpivot(index="day", variable_name="status", value_name="edges")
    scale = alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))
    return svg(alt.Chart(data, title="Edges by status").mark_area(opacity=0.85).encode(
        x=alt.X("day:T", title=None), y=alt.Y("edges:Q", title=None, stack=True),
        color=alt.Color("status:N", scale=scale, title=None, legend=alt.Legend(orient="top")),
        order=alt.Order("status:N"),
    ).properties(width=380, height=200))


def counts(data: pl.DataFrame, category: str, value: str, title: str,
           colour: str | None = None) -> str:
    """A horizontal bar chart of `value` by `category` (stacked by `colour` if given)."""
    enc = {"y": alt.Y(f"{category}:N", sort="-x", title=None),
           "x": alt.X(f"sum({value}):Q", title=None),
           "tooltip": [f"{category}:N", f"sum({value}):Q"]}
    if colour:
        scale = alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))
        enc["color"] = alt.Color(f"{colour}:N", scale=scale, title=None,
                                 legend=alt.Legend(orient="top"))
    height = max(60, 18 * data[category].n_unique())
    return svg(alt.Chart(data, title=title).mark_bar().encode(**enc)
               .properties(width=320, height=height))


def timeline(versions: pl.DataFrame) -> str:
    """A claim's confidence over time (a step per version: noisy-OR rising with each
    supporting document), support as the point labels."""
    base = alt.Chart(versions).encode(
        x=alt.X("valid_from:T", title=None, axis=alt.Axis(format="%m-%d", tickCount=4)),
        y=alt.Y("confidence:Q", title=None, scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(tickCount=3)),
    )
    line = base.mark_line(interpolate="step-after", color="#1c7ed6")
    points = base.mark_point(filled=True, size=25, color="#1c7ed6").encode(
        tooltip=["valid_from:T", "confidence:Q", "support:Q", "status:N"])
    labels = base.mark_text(dy=-8, fontSize=9, color="#495057").encode(text="support:Q")
    return svg((line + points + labels).properties(width=190, height=60))
