"""Draw the whole project's Kedro graph (``__default__``, the sum of the pipelines) to
``docs/img/pipeline_dag.png``: ``.venv/bin/python docs/img/draw_pipeline_dag.py`` from the
project folder. A stand-in for a ``kedro viz`` screenshot where no browser is available; the
same graph, left to right: catalog datasets (grey dots; parameters left out) and nodes (boxes,
coloured by pipeline)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
from kedro.framework.project import configure_project  # noqa: E402

configure_project("aixcell_automl")
from aixcell_automl.pipeline_registry import register_pipelines  # noqa: E402

pipes = register_pipelines()
owner = {n.name: name for name, p in pipes.items() if name != "__default__" for n in p.nodes}
g = nx.DiGraph()
for n in pipes["__default__"].nodes:
    base = n.name.split(".")[-1]
    g.add_node(("node", n.name), kind="node", pipeline=n.namespace or owner[n.name], label=base)
    for i in n.inputs:
        if not i.startswith("params:") and i != "parameters":
            g.add_node(("data", i), kind="data", label=i)
            g.add_edge(("data", i), ("node", n.name))
    for o in n.outputs:
        g.add_node(("data", o), kind="data", label=o)
        g.add_edge(("node", n.name), ("data", o))
for layer, nodes in enumerate(nx.topological_generations(g)):
    for v in nodes:
        g.nodes[v]["layer"] = layer
pos = nx.multipartite_layout(g, subset_key="layer", align="vertical", scale=1)
pipelines = sorted({d["pipeline"] for _, d in g.nodes(data=True) if d["kind"] == "node"})
colour = {p: plt.get_cmap("tab20")(i) for i, p in enumerate(pipelines)}
fig, ax = plt.subplots(figsize=(30, 22))
nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=6, width=0.5, alpha=0.4,
                       edge_color="0.4")
data = [v for v, d in g.nodes(data=True) if d["kind"] == "data"]
nx.draw_networkx_nodes(g, pos, nodelist=data, node_size=12, node_color="0.55", ax=ax)
for v, d in g.nodes(data=True):
    x, y = pos[v]
    if d["kind"] == "node":
        ax.text(x, y, d["label"], fontsize=7, ha="center", va="center", zorder=3,
                bbox={"boxstyle": "round,pad=0.25", "fc": colour[d["pipeline"]], "ec": "0.3",
                      "lw": 0.5})
    else:
        ax.text(x, y - 0.006, d["label"], fontsize=5.5, ha="center", va="top", color="0.25")
for p in pipelines:
    ax.plot([], [], "s", ms=10, color=colour[p], label=p)
ax.legend(loc="upper left", fontsize=11, title="pipeline", ncol=2)
ax.set_title("aixcell-automl: the whole project's Kedro graph (kedro run's __default__, the sum "
             "of the pipelines; grey: catalog datasets)", fontsize=14)
ax.axis("off")
fig.tight_layout()
out = Path(__file__).with_name("pipeline_dag.png")
fig.savefig(out, dpi=70)
print(out)
