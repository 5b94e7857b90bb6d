"""Linear and logistic regression (statsmodels, imported only when called) with the residual-DoF rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from egress_review.checks.api import Flag
from egress_review.checks.policy import DisclosurePolicy
from egress_review.export_names import call_name
from egress_review.sdc.result import SDCResult, Summary
from egress_review.sdc.tables import _policy


def _statsmodels():
    try:
        import statsmodels.api as sm
        import statsmodels.formula.api as smf
    except ImportError as exc:  # the notebook image may not ship statsmodels
        raise ImportError("regressions need statsmodels; it is not installed in this environment") from exc
    return sm, smf


def _wrap(fitted: Any, command: str, policy: DisclosurePolicy, name: str | None = None) -> SDCResult:
    ci = fitted.conf_int()
    table = pd.DataFrame({"coef": fitted.params, "std err": fitted.bse, "z" if command == "logit" else "t":
                          fitted.tvalues, "P>|t|" if command == "ols" else "P>|z|": fitted.pvalues,
                          "[0.025": ci.iloc[:, 0], "0.975]": ci.iloc[:, 1]})
    dof = int(round(float(fitted.df_resid)))
    failing = policy.dof.enabled and dof < policy.dof.min_dof
    outcome = pd.DataFrame(np.full(table.shape, "dof" if failing else "", dtype=object), index=table.index,
                           columns=table.columns)
    flags, reasons = [], []
    if failing:
        msg = f"the model has {dof} residual degrees of freedom; the minimum is {policy.dof.min_dof}"
        flags.append(Flag(rule="dof", severity=policy.dof.severity, message=msg))
        reasons.append(msg)
    status = ("fail" if policy.dof.severity == "fail" else "review") if failing else "pass"
    protected = table.astype(float).mask(outcome != "") if failing else table.copy()
    result = SDCResult(table=table, outcome=outcome, summary=Summary(status, reasons, flags), protected=protected,
                       suppressed=outcome != "", command=command, policy=policy, cells=None, aggfuncs=[],
                       dof=dof, kind="regression")
    result.model = fitted  # type: ignore[attr-defined]
    return result.named(name, call_name(command, getattr(fitted.model, "endog_names", None)))


def ols(endog: Any = None, exog: Any = None, *, formula: str | None = None, data: pd.DataFrame | None = None,
        add_constant: bool = True, policy: DisclosurePolicy | None = None, name: str | None = None,
        **fit_kwargs: Any) -> SDCResult:
    """Ordinary least squares: ``ols(y, X)`` or ``ols(formula="y ~ x", data=df)``."""
    sm, smf = _statsmodels()
    policy = _policy(policy)
    if formula is not None:
        fitted = smf.ols(formula, data=data).fit(**fit_kwargs)
    else:
        X = sm.add_constant(exog, has_constant="skip") if add_constant else exog
        fitted = sm.OLS(endog, X, missing="drop").fit(**fit_kwargs)
    return _wrap(fitted, "ols", policy, name)


def logit(endog: Any = None, exog: Any = None, *, formula: str | None = None, data: pd.DataFrame | None = None,
          add_constant: bool = True, policy: DisclosurePolicy | None = None, name: str | None = None,
        **fit_kwargs: Any) -> SDCResult:
    """Logistic regression: ``logit(y, X)`` or ``logit(formula="y ~ x", data=df)``."""
    sm, smf = _statsmodels()
    policy = _policy(policy)
    fit_kwargs.setdefault("disp", 0)
    if formula is not None:
        fitted = smf.logit(formula, data=data).fit(**fit_kwargs)
    else:
        X = sm.add_constant(exog, has_constant="skip") if add_constant else exog
        fitted = sm.Logit(endog, X, missing="drop").fit(**fit_kwargs)
    return _wrap(fitted, "logit", policy, name)
