# sdc_lm() and sdc_glm(): lm()/glm() with the residual degrees-of-freedom rule, returning the same coefficient
# table as egress_review.sdc.ols/logit (columns coef, std err, t|z, P>|t|/P>|z|, [0.025, 0.975]).

.regression <- function(fitted, command, stat, ci, policy, name) {
  s <- summary(fitted)$coefficients
  terms <- rownames(s)
  terms[terms == "(Intercept)"] <- "Intercept"  # statsmodels' name for it, so both languages label alike
  vals <- cbind(s[, 1], s[, 2], s[, 3], s[, 4], ci[rownames(s), 1], ci[rownames(s), 2])
  labels <- c("coef", "std err", stat, if (stat == "t") "P>|t|" else "P>|z|", "[0.025", "0.975]")
  dof <- as.integer(round(stats::df.residual(fitted)))
  failing <- isTRUE(policy$dof$enabled) && dof < policy$dof$min_dof
  R <- nrow(vals)
  outcome <- matrix(if (failing) "dof" else "", R, ncol(vals))
  protected <- vals
  if (failing) protected[] <- NA
  row_labels <- stats::setNames(data.frame(terms, stringsAsFactors = FALSE), "")
  reasons <- if (failing) sprintf("the model has %d residual degrees of freedom; the minimum is %d", dof, policy$dof$min_dof) else character()
  status <- if (!failing) "pass" else if (policy$dof$severity == "fail") "fail" else "review"
  response <- all.vars(stats::formula(fitted))[1]
  structure(list(
    table = .as_frame(vals, row_labels, labels), outcome = .as_frame(outcome, row_labels, labels),
    protected = .as_frame(protected, row_labels, labels),
    summary = structure(list(status = status, reasons = reasons), class = "sdc_summary"),
    flags = data.frame(rule = rep("dof", failing), severity = rep(policy$dof$severity, failing),
                       row = rep(NA_character_, failing), column = rep(NA_character_, failing)),
    index_levels = 1L, column_labels = labels, command = command, aggfunc = character(), entity = NULL,
    additive = FALSE, policy = policy, cells = NULL, kind = "regression", dof = dof, rounding = NULL,
    name = name, default_name = .call_name(command, response), replay = NULL, replay_problem = "it was not made by a table wrapper",
    model = fitted
  ), class = "sdc_result")
}

#' Linear regression (lm) with the residual degrees-of-freedom check.
sdc_lm <- function(formula, data, ..., name = NULL, policy = NULL) {
  policy <- if (is.null(policy)) sdc_policy() else policy
  fitted <- stats::lm(formula, data = data, ...)
  .regression(fitted, "ols", "t", stats::confint(fitted), policy, name)
}

#' Generalised linear model (glm, default binomial: logistic regression) with the residual DoF check.
sdc_glm <- function(formula, data, family = stats::binomial(), ..., name = NULL, policy = NULL) {
  policy <- if (is.null(policy)) sdc_policy() else policy
  fitted <- stats::glm(formula, data = data, family = family, ...)
  fam <- if (is.function(family)) family() else family
  logit <- fam$family == "binomial" && fam$link == "logit"
  z <- fam$family %in% c("binomial", "poisson")
  .regression(fitted, if (logit) "logit" else "glm", if (z) "z" else "t", stats::confint.default(fitted), policy, name)
}
