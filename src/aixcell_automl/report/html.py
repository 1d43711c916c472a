"""The self-contained HTML report of a search (figures embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode()


def _table(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    return df.to_html(index=False, border=0, classes="t",
                      float_format=lambda v: floatfmt.format(v))


def html_report(summary: dict, metrics: dict, ranking: pd.DataFrame, trace: dict,
                meta_features: dict, halving_fig, overlay_fig) -> str:
    """One HTML file with everything a person wants to see about a search."""
    e = html.escape
    cfg = metrics["winner_config"]
    label = summary["metric_label"]
    per_class = pd.DataFrame([{"class": k, f"test {label}": v}
                              for k, v in metrics["per_class_score"].items()])
    outcome = {}
    for rung in trace["rungs"]:
        for t in rung["trials"]:
            outcome[t["config_id"]] = (rung["rung"] + 1, t["score"], t["status"])
    top = ranking[ranking["config_id"].isin(outcome)].copy()
    top.insert(1, "plan", np.where(top["config_id"] == trace.get("plan_config_id"), "yes", ""))
    top["reached rung"] = top["config_id"].map(lambda c: outcome.get(c, (0,))[0])
    top[f"val {label}"] = top["config_id"].map(lambda c: outcome.get(c, (0, np.nan))[1])
    mf = pd.DataFrame([{"meta-feature": k, "value": v} for k, v in meta_features.items()
                       if k.startswith(("hc_", "ug_")) and not isinstance(v, str)])
    css = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}"
           "table.t{border-collapse:collapse;font-size:13px}table.t td,table.t th{padding:3px 8px;"
           "border-bottom:1px solid #ddd;text-align:right}h1{font-size:24px}.big{font-size:20px}"
           ".note{color:#666;font-size:13px}")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>aixcell-automl search: {e(summary['dataset'])}</title><style>{css}</style></head><body>
<h1>Segmentation model for <em>{e(summary['dataset'])}</em></h1>
<p class="big">Test {e(label)} <b>{metrics['test_score']:.3f}</b> on {metrics['test_images']}
held-out images (mean over foreground classes{
f"; IoU {metrics['test_iou']:.3f}" if metrics['metric'] != 'iou' else ''}). Best validation
{e(label)} during the search: {metrics['winner_val_score']:.3f}.</p>
<p>Winner: <b>{e(cfg['backbone'])}</b> U-Net, patch {cfg['patch_size']} px, batch
{cfg['batch_size']}, learning rate {cfg['learning_rate']}, augmentations
{e(', '.join(f'{k} p={cfg[k]}' for k in summary['augmentations'] if float(cfg.get(k, 0)) > 0)
  or 'none')} &mdash; ranked #{metrics['winner_rank']} of {summary['n_configs']} by the
meta-model (config id <code>{cfg['config_id']}</code>).</p>
<p>{e(summary['plan_note'])} Candidates ({trace['k']}):
{e(trace['candidates_from'])} (the plan: the
rule-based configuration, <code>plans.json</code>); {e(summary['k_note'])}</p>
<p>Budget {summary['budget_seconds']:.0f} s for {e(trace['strategy'])}
over {trace['k']} candidates; the search took {summary['wall_seconds']:.0f} s on
{e(summary['hardware'])} (the budget plus building each model once and evaluating).
{e(summary['budget_note'])}
The model is saved in <code>{e(summary['model_path'])}</code>; apply it with
<code>kedro run --pipeline=predict --params "predict.input=/path/to/images"</code>.</p>
<h2>Per-class test {e(label)}</h2>{_table(per_class)}
<h2>Test images: image | ground truth | prediction</h2>
<img src="data:image/png;base64,{_png(overlay_fig)}" style="max-width:100%">
<h2>The search's rungs ({e(trace['strategy'])})</h2>
<img src="data:image/png;base64,{_png(halving_fig)}" style="max-width:100%">
<h2>The {len(top)} candidates trained (the reserve's included), in predicted rank order</h2>
{_table(top[['rank', 'plan', 'config_id', 'backbone', 'patch_size', 'batch_size', 'learning_rate',
             *summary['augmentations'], 'predicted_score', 'reached rung', f'val {label}']])}
<h2>Dataset meta-features</h2>{_table(mf)}
<h2>How this was made</h2>
<p class="note">Meta-model: {e(summary['meta_model'])} on representation
<code>{e(summary['representation'])}</code>, trained on {summary['metabase_rows']} meta-base rows
from {summary['metabase_datasets']} other datasets{e(summary['excluded_note'])}.
{'<b>The meta-base is still small, so the ranking is a weak prior; successive halving on your data '
 'decides.</b>' if summary['metabase_rows'] < 100 else ''}
Split: {e(summary['split_note'])}. Seed {summary['seed']}. Versions: {e(summary['versions'])}.
</p></body></html>"""
