# sdc_crosstab(), sdc_table() and sdc_aggregate(): the tables of egress_review.sdc's crosstab(),
# pivot_table() and describe_by(), made from a data frame's columns, with every cell rule attached.
# Each returns an "sdc_result": $table (label columns, then the cells), $outcome (the failing rules per
# cell, "" where safe), $protected (failing cells blank), $summary; sdc_export() writes the protected table
# and its sidecar, request_export() sends it to the output checkers.

.cell_value <- function(v, f) {
  x <- v[!is.na(v)]
  switch(f,
         count = length(x),
         size = length(v),
         sum = sum(x),
         mean = if (length(x)) mean(x) else NA_real_,
         median = if (length(x)) stats::median(x) else NA_real_,
         min = if (length(x)) min(x) else NA_real_,
         max = if (length(x)) max(x) else NA_real_,
         std = if (length(x) > 1) stats::sd(x) else NA_real_,
         var = if (length(x) > 1) stats::var(x) else NA_real_,
         nunique = length(unique(x)),
         mode = if (length(x)) { t <- table(x); as.numeric(names(t)[which.max(t)]) } else NA_real_)
}

# fun per cell over rows grouped by g (1..n), NA where a cell has no rows
.cells <- function(v, g, n, f) {
  out <- rep(NA_real_, n)
  keep <- !is.na(g)
  groups <- split(as.numeric(v[keep]), factor(g[keep], levels = seq_len(n)))
  has <- lengths(groups) > 0
  out[has] <- vapply(groups[has], .cell_value, numeric(1), f = f)
  out
}

.check_columns <- function(data, cols) {
  missing <- setdiff(cols, names(data))
  if (length(missing)) stop(sprintf("no column %s in the data", paste0("'", missing, "'", collapse = ", ")), call. = FALSE)
}

.slug <- function(x) {
  x <- tolower(trimws(enc2utf8(as.character(x))))
  x <- gsub("(*UCP)[^\\w.-]+", "_", x, perl = TRUE)
  x <- gsub("^[_.]+|[_.]+$", "", x)
  gsub("_+", "_", x)
}

# crosstab_unit_gender: the command, then the names of its variables (egress_review.export_names.call_name)
.call_name <- function(command, ...) {
  words <- .slug(command)
  for (part in list(...)) for (x in part) if (!is.null(x) && nzchar(x)) { s <- .slug(x); if (nzchar(s)) words <- c(words, s) }
  sub("_+$", "", substr(paste(words, collapse = "_"), 1, 80))
}

# Evaluate the rules on per-cell statistics laid out like the table (matrices R x C) and make the result
.finish <- function(vals, row_labels, col_labels, aggs, st, policy, command, aggnames, entity, additive,
                    name, default_name, round = NULL, integer_cells = FALSE, margins = NULL, margins_name = "All") {
  R <- nrow(vals)
  C <- ncol(vals)
  flat <- function(m) if (is.null(m)) NULL else as.vector(t(m))  # row-major, as the sidecar lists cells
  top <- NULL
  if (!is.null(st$top)) top <- do.call(rbind, lapply(seq_len(R), function(i) st$top[i, , , drop = TRUE]))
  if (!is.null(top) && !is.matrix(top)) top <- matrix(top, ncol = dim(st$top)[3])
  units <- st$units
  if (is.null(entity) && !is.null(st$nonmissing)) {
    # units are rows, and a "count" cell counts the rows with a value: the count shown is the count checked
    units <- ifelse(aggs == "count", st$nonmissing, units)
  }
  cs <- list(count = flat(units), agg = flat(aggs), total = flat(st$total), top = top,
             negative = flat(st$negative), missing = flat(st$missing))
  masks <- .evaluate(cs, policy)
  failing <- Reduce(`|`, masks, rep(FALSE, R * C))
  is_count <- flat(aggs) %in% .COUNT_AGGS
  rounding <- NULL
  if (!identical(round, FALSE) && (isTRUE(policy$rounding$enabled) || !is.null(round)) && any(is_count)) {
    base <- if (is.numeric(round)) as.integer(round) else as.integer(policy$rounding$base)
    if (base < 2) stop("round= is a base of at least 2 (or TRUE/FALSE)", call. = FALSE)
    rounding <- list(base = base, method = policy$rounding$method)
  }
  if (isTRUE(policy$rounding$enabled) && any(is_count)) {
    unround <- is_count & .unrounded(flat(vals), policy$rounding$base, policy$rounding$method)
    if (any(unround)) masks$rounding <- unround
  }
  outcome <- matrix(.outcome_strings(masks, R * C), R, C, byrow = TRUE)
  suppressed <- matrix(failing, R, C, byrow = TRUE)
  has_margins <- !is.null(margins)
  row_totals <- has_margins && margins$row_margin
  col_totals <- has_margins && margins$col_margin
  secondary <- has_margins && additive && isTRUE(policy$secondary_suppression$enabled) && any(failing)
  if (secondary) suppressed <- .protect(vals, suppressed, row_totals, col_totals, policy)
  protected <- vals
  if (!is.null(rounding)) {
    cm <- matrix(is_count, R, C, byrow = TRUE)
    protected[cm] <- .round_counts(vals[cm], rounding$base, rounding$method)
    if ((row_totals || col_totals) && additive && all(cm)) {
      # totals are the sums of the rounded cells (egress_review.checks.rounding.with_totals)
      body <- protected[seq_len(R - col_totals), seq_len(C - row_totals), drop = FALSE]
      body[is.na(body)] <- 0
      if (row_totals) protected[seq_len(R - col_totals), C] <- rowSums(body)
      if (col_totals) protected[R, seq_len(C - row_totals)] <- colSums(body)
      if (row_totals && col_totals) protected[R, C] <- sum(body)
    }
  }
  protected[suppressed] <- NA
  rules <- c(.RULE_ORDER[.RULE_ORDER %in% names(masks)], setdiff(names(masks), .RULE_ORDER))
  reasons <- vapply(rules, function(r) { k <- sum(masks[[r]]); sprintf("%s: %d cell%s", r, k, if (k != 1) "s" else "") },
                    character(1), USE.NAMES = FALSE)
  n_secondary <- sum(suppressed & !matrix(failing, R, C, byrow = TRUE))
  if (n_secondary) {
    reasons <- c(reasons, sprintf("%d more cell%s suppressed so that the suppressed cells cannot be worked out from the totals",
                                  n_secondary, if (n_secondary != 1) "s" else ""))
  }
  # one row per failing cell and rule, as the checkers will see them
  row_text <- do.call(paste, c(lapply(row_labels, .label_text), sep = " / "))
  flags <- do.call(rbind, c(list(data.frame(rule = character(), severity = character(), row = character(),
                                            column = character())),
                            lapply(rules, function(r) {
                              k <- which(masks[[r]]) - 1
                              data.frame(rule = rep(r, length(k)), severity = rep(.severity_of(policy, r), length(k)),
                                         row = row_text[k %/% C + 1], column = col_labels[k %% C + 1])
                            })))
  rows <- flat(st$rows)
  if (!is.null(st$nonmissing)) rows <- ifelse(flat(aggs) == "count", flat(st$nonmissing), rows)
  cells <- list(agg = flat(aggs), count = cs$count, rows = rows, total = cs$total, top = top,
                negative = cs$negative, missing = cs$missing,
                suppressed = as.vector(t(suppressed)),
                margin = if (has_margins) as.vector(t(margins$mask)) else rep(FALSE, R * C))
  frame <- function(m) .as_frame(m, row_labels, col_labels, integer_cells)
  structure(list(
    table = frame(vals), outcome = frame(outcome), protected = frame(protected),
    suppressed = frame(suppressed),
    summary = structure(list(status = .severity_verdict(rules, policy), reasons = reasons), class = "sdc_summary"),
    flags = flags,
    index_levels = ncol(row_labels), column_labels = col_labels,
    margins = has_margins, margins_name = margins_name, row_totals = row_totals, column_totals = col_totals,
    secondary = secondary,
    command = command, aggfunc = aggnames, entity = entity, additive = additive, policy = policy,
    cells = cells, kind = "table", dof = NULL, rounding = rounding,
    name = name, default_name = default_name, replay = NULL,
    replay_problem = "it was not made by a table wrapper"
  ), class = "sdc_result")
}

# The table as a data frame: label columns, then one column per table column (named by its label)
.as_frame <- function(m, row_labels, col_labels, integer_cells = FALSE) {
  body <- as.data.frame(m, stringsAsFactors = FALSE)
  names(body) <- col_labels
  if (integer_cells && is.numeric(m)) body[] <- lapply(body, function(x) if (all(is.na(x) | x == round(x))) as.integer(x) else x)
  clash <- names(body) %in% names(row_labels)
  names(body)[clash] <- paste0(names(body)[clash], " ")  # as pandas' flat table does
  out <- data.frame(row_labels, body, check.names = FALSE, stringsAsFactors = FALSE)
  names(out) <- c(names(row_labels), names(body))  # an unnamed label column stays "" (pandas' header)
  rownames(out) <- NULL
  out
}

.stat_arrays <- function(st, R, C, m) {
  out <- list()
  for (k in c("rows", "units", "total", "nonmissing", "negative", "missing")) {
    if (!is.null(st[[k]])) out[[k]] <- matrix(as.numeric(st[[k]]), R, C, byrow = TRUE)
  }
  if (!is.null(st$top)) {
    a <- array(NA_real_, c(R, C, m))
    for (i in seq_len(R)) for (j in seq_len(C)) a[i, j, ] <- st$top[(i - 1) * C + j, ]
    out$top <- a
  }
  out
}

.prepare <- function(data, keys_rows, keys_cols, entity, values = NULL) {
  if (!is.data.frame(data)) stop("data must be a data frame", call. = FALSE)
  .check_columns(data, c(keys_rows, keys_cols, values, entity))
  rows <- .axis(data, keys_rows)
  cols <- .axis(data, keys_cols)
  g <- ifelse(is.na(rows$codes) | is.na(cols$codes), NA_integer_, (rows$codes - 1L) * cols$n + cols$codes)
  list(rows = rows, cols = cols, g = as.integer(g), n = rows$n * cols$n, entity = .entity_codes(data, entity))
}

.col_labels <- function(cols) {
  if (!length(cols$names)) return("")
  do.call(paste, c(lapply(cols$labels, .label_text), sep = " / "))
}

.row_frame <- function(rows) {
  out <- as.data.frame(lapply(rows$labels, .label_text), stringsAsFactors = FALSE, optional = TRUE)
  names(out) <- rows$names
  out
}

#' Cross table (pandas.crosstab with the checks): counts of rows (or of \code{entity}s) per combination
#' of \code{rows} and \code{cols}; with \code{values} and \code{fun} a statistic of that column per cell.
sdc_crosstab <- function(data, rows, cols, values = NULL, fun = NULL, entity = NULL, margins = FALSE,
                         margins_name = "All", name = NULL, round = NULL, policy = NULL) {
  policy <- if (is.null(policy)) sdc_policy() else policy
  if (!length(rows) || !length(cols)) stop("sdc_crosstab needs rows and cols (sdc_aggregate for one dimension)", call. = FALSE)
  if (!is.null(fun) && is.null(values)) stop("fun needs values", call. = FALSE)
  agg <- .agg_name(fun)
  p <- .prepare(data, rows, cols, entity, values)
  m <- max(2L, policy$nk$n)
  v <- if (is.null(values)) NULL else suppressWarnings(as.numeric(data[[values]]))
  need_values <- !is.null(v) && agg != "count"
  st <- .group_stats(p$g, p$n, if (need_values) v else NULL, p$entity, m, agg %in% .LINEAR_AGGS)
  R <- p$rows$n
  C <- p$cols$n
  cell <- if (is.null(values)) st$rows else .cells(v, p$g, p$n, agg)
  vals <- matrix(as.numeric(cell), R, C, byrow = TRUE)
  arrays <- .stat_arrays(st, R, C, m)
  row_frame <- .row_frame(p$rows)
  col_labels <- .col_labels(p$cols)
  mg <- NULL
  if (isTRUE(margins)) {
    mg <- .add_margins(p, st, vals, v, agg, m, agg %in% .LINEAR_AGGS, if (need_values) v else NULL,
                       is.null(values), TRUE, margins_name)
    vals <- mg$vals
    arrays <- mg$arrays
    row_frame <- mg$rows
    col_labels <- c(col_labels, margins_name)
  }
  measure <- if (is.null(values)) character() else c(agg, values, "by")
  res <- .finish(vals, row_frame, col_labels, matrix(agg, nrow(vals), ncol(vals)), arrays, policy, "crosstab",
                 agg, entity, additive = agg %in% c("count", "sum"), name = name,
                 default_name = .call_name("crosstab", measure, rows, cols), round = round,
                 integer_cells = is.null(values), margins = mg, margins_name = margins_name)
  # the arguments of egress_review.sdc.crosstab as the server's replay calls it
  args <- list(index = I(rows), columns = I(cols), values = values, aggfunc = if (is.null(fun)) NULL else agg,
               rownames = NULL, colnames = NULL, margins = isTRUE(margins), margins_name = margins_name,
               dropna = TRUE, normalize = FALSE, round = round)
  .with_replay(res, data, "crosstab", args, entity, c(rows, cols, values))
}

#' Grouped table (pandas.pivot_table with the checks): \code{fun} of \code{values} per \code{rows} x
#' \code{cols}; \code{entity} makes thresholds count people and dominance add each person's rows first.
sdc_table <- function(data, rows, cols = NULL, values, fun = "mean", entity = NULL, margins = FALSE,
                      margins_name = "All", name = NULL, round = NULL, policy = NULL) {
  policy <- if (is.null(policy)) sdc_policy() else policy
  if (missing(values) || length(values) != 1) stop("sdc_table needs one values column", call. = FALSE)
  if (length(fun) != 1) stop("sdc_table takes one fun (sdc_aggregate for several statistics)", call. = FALSE)
  agg <- .agg_name(fun)
  p <- .prepare(data, rows, cols, entity, values)
  m <- max(2L, policy$nk$n)
  v <- suppressWarnings(as.numeric(data[[values]]))
  st <- .group_stats(p$g, p$n, v, p$entity, m, agg %in% .LINEAR_AGGS)
  R <- p$rows$n
  C <- p$cols$n
  vals <- matrix(.cells(v, p$g, p$n, agg), R, C, byrow = TRUE)
  col_labels <- if (length(cols)) .col_labels(p$cols) else values
  arrays <- .stat_arrays(st, R, C, m)
  row_frame <- .row_frame(p$rows)
  mg <- NULL
  if (isTRUE(margins)) {
    has_cols <- length(cols) > 0
    mg <- .add_margins(p, st, vals, v, agg, m, agg %in% .LINEAR_AGGS, v, FALSE, has_cols, margins_name)
    vals <- mg$vals
    arrays <- mg$arrays
    row_frame <- mg$rows
    if (has_cols) col_labels <- c(col_labels, margins_name)
  }
  res <- .finish(vals, row_frame, col_labels, matrix(agg, nrow(vals), ncol(vals)), arrays, policy,
                 "pivot_table", agg, entity, additive = agg %in% c("count", "sum"), name = name,
                 default_name = .call_name("pivot_table", agg, values, "by", rows, cols), round = round,
                 integer_cells = agg %in% .COUNT_AGGS, margins = mg, margins_name = margins_name)
  args <- list(values = values, index = .one_or_list(rows), columns = .one_or_list(cols), aggfunc = agg,
               fill_value = NULL, margins = isTRUE(margins), dropna = TRUE, margins_name = margins_name,
               observed = FALSE, sort = TRUE, round = round)
  .with_replay(res, data, "pivot_table", args, entity, c(rows, cols, values))
}

# one column name as a string, several as a list (as a Python caller would pass them)
.one_or_list <- function(x) if (is.null(x) || !length(x)) NULL else if (length(x) == 1) x else I(x)

#' Summary statistics per group (describe_by): \code{stats} of each \code{values} column per \code{by},
#' checked per group and statistic.
sdc_aggregate <- function(data, by, values, stats = c("count", "mean", "std", "min", "median", "max"),
                          entity = NULL, name = NULL, round = NULL, policy = NULL) {
  policy <- if (is.null(policy)) sdc_policy() else policy
  aggs <- vapply(stats, .agg_name, character(1), USE.NAMES = FALSE)
  p <- .prepare(data, by, character(), entity, values)
  m <- max(2L, policy$nk$n)
  R <- p$rows$n
  need_top <- any(aggs %in% .LINEAR_AGGS)
  cols <- list()
  labels <- character()
  agg_m <- character()
  for (value in values) {
    v <- suppressWarnings(as.numeric(data[[value]]))
    st <- .stat_arrays(.group_stats(p$g, p$n, v, p$entity, m, need_top), R, 1, m)
    for (a in aggs) {
      cols[[length(cols) + 1]] <- list(vals = .cells(v, p$g, p$n, a), st = st)
      labels <- c(labels, paste(value, a, sep = " / "))
      agg_m <- c(agg_m, a)
    }
  }
  vals <- do.call(cbind, lapply(cols, `[[`, "vals"))
  arrays <- list()
  for (k in names(cols[[1]]$st)) {
    if (k == "top") {
      a <- array(NA_real_, c(R, length(cols), m))
      for (j in seq_along(cols)) a[, j, ] <- cols[[j]]$st$top[, 1, ]
      arrays$top <- a
    } else {
      arrays[[k]] <- do.call(cbind, lapply(cols, function(c) c$st[[k]][, 1]))
    }
  }
  res <- .finish(vals, .row_frame(p$rows), labels, matrix(agg_m, R, length(cols), byrow = TRUE), arrays, policy,
                 "describe_by", aggs, entity, additive = FALSE, name = name,
                 default_name = .call_name("describe_by", values, "by", by), round = round)
  args <- list(by = .one_or_list(by), values = .one_or_list(values), stats = I(aggs), round = round)
  .with_replay(res, data, "describe_by", args, entity, c(by, values))
}

format.sdc_summary <- function(x, ...) {
  if (!length(x$reasons)) x$status else paste0(x$status, ": ", paste(x$reasons, collapse = "; "))
}

print.sdc_summary <- function(x, ...) {
  cat(format(x), "\n")
  invisible(x)
}

print.sdc_result <- function(x, ...) {
  cat(format(x$summary), "\n")
  print(x$protected, row.names = FALSE)
  invisible(x)
}
