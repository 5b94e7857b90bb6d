# The cell rules, as egress_review/checks/rules.py evaluates them: which rules apply to which aggregate,
# the masks over cells, and the outcome string per cell in the same rule order.

.RULE_ORDER <- c("threshold", "zero", "nk", "p_percent", "negative", "missing", "dof",
                 "identifier", "record_level", "differencing")

.AGG_RULES <- list(
  count = c("threshold", "zero"), size = c("threshold", "zero"),
  sum = c("threshold", "nk", "p_percent", "negative", "missing"),
  mean = c("threshold", "nk", "p_percent", "negative", "missing"),
  median = c("threshold", "zero", "missing"), min = c("threshold", "zero", "missing"),
  max = c("threshold", "zero", "missing"), mode = c("zero", "missing"),
  std = c("threshold", "missing"), var = c("threshold", "missing"), nunique = c("threshold", "zero")
)
.LINEAR_AGGS <- c("sum", "mean")
.COUNT_AGGS <- c("count", "size", "nunique")

# R's names for the statistics, as pandas names them (sd is pandas' std, length its count)
.agg_name <- function(f) {
  if (is.null(f)) return("count")
  f <- as.character(f)
  aliases <- c(length = "count", n = "count", sd = "std", average = "mean", amax = "max", amin = "min")
  if (f %in% names(aliases)) f <- unname(aliases[f])
  if (!f %in% names(.AGG_RULES)) {
    stop(sprintf("aggregate '%s' is not supported by the disclosure checks; use one of %s", f,
                 paste(sort(names(.AGG_RULES)), collapse = ", ")), call. = FALSE)
  }
  f
}

.nz <- function(x) { x <- as.numeric(x); x[is.na(x)] <- 0; x }

# rule -> logical mask over cells, only rules some cell fails (cells in row-major order)
.evaluate <- function(st, policy) {
  count <- as.numeric(st$count)
  applies <- lapply(stats::setNames(.RULE_ORDER, .RULE_ORDER), function(r) rep(FALSE, length(count)))
  for (a in unique(st$agg)) {
    sel <- st$agg == a
    for (r in .AGG_RULES[[a]]) applies[[r]] <- applies[[r]] | sel
  }
  masks <- list()
  if (isTRUE(policy$threshold$enabled)) masks$threshold <- applies$threshold & (.nz(count) < policy$threshold$min_count)
  if (isTRUE(policy$zero$enabled)) masks$zero <- applies$zero & (.nz(count) == 0)
  negative <- rep(FALSE, length(count))
  if (!is.null(st$negative)) {
    negative <- applies$negative & (.nz(st$negative) > 0)
    if (isTRUE(policy$negative$enabled)) masks$negative <- negative
  }
  if (!is.null(st$top) && !is.null(st$total)) {
    top0 <- st$top
    top0[is.na(top0)] <- 0
    total <- as.numeric(st$total)
    ok <- !negative
    if (isTRUE(policy$nk$enabled)) {
      n <- policy$nk$n
      if (ncol(top0) < n) stop("the statistics keep too few largest contributions for the NK rule", call. = FALSE)
      top_n <- rowSums(top0[, seq_len(n), drop = FALSE])
      share <- ifelse(!is.na(total) & total > 0, top_n / ifelse(!is.na(total) & total > 0, total, 1), 0)
      masks$nk <- applies$nk & ok & (share >= policy$nk$k)
    }
    if (isTRUE(policy$p_percent$enabled)) {
      top1 <- top0[, 1]
      top2 <- top0[, 2]
      rest <- .nz(total) - top1 - top2
      ratio <- ifelse(top1 > 0, rest / ifelse(top1 > 0, top1, 1), Inf)
      masks$p_percent <- applies$p_percent & ok & (top1 > 0) & (ratio < policy$p_percent$p)
    }
  }
  if (isTRUE(policy$missing$enabled) && !is.null(st$missing)) masks$missing <- applies$missing & (.nz(st$missing) > 0)
  masks[vapply(masks, any, logical(1))]
}

.outcome_strings <- function(masks, size) {
  rules <- c(.RULE_ORDER[.RULE_ORDER %in% names(masks)], sort(setdiff(names(masks), .RULE_ORDER), method = "radix"))
  out <- character(size)
  for (r in rules) {
    hit <- masks[[r]]
    out[hit] <- ifelse(nzchar(out[hit]), paste0(out[hit], "; ", r), r)
  }
  out
}

.severity_verdict <- function(rules, policy) {
  if (!length(rules)) return("pass")
  if (any(vapply(rules, function(r) .severity_of(policy, r) == "fail", logical(1)))) "fail" else "review"
}

# egress_review/checks/rounding.py: nearest (halves away from zero) or midpoint rounding of counts
.round_counts <- function(v, base, method) {
  v <- as.numeric(v)
  out <- if (method == "midpoint") {
    r <- ceiling(abs(v) / base) * base - base %/% 2
    ifelse(v == 0, 0, sign(v) * r)
  } else if (method == "nearest") {
    sign(v) * floor(abs(v) / base + 0.5) * base
  } else stop(sprintf("unknown rounding method '%s'", method), call. = FALSE)
  out[is.na(v)] <- NA
  out
}

.unrounded <- function(v, base, method) {
  r <- .round_counts(v, base, method)
  !is.na(v) & abs(as.numeric(v) - r) > 1e-9
}
