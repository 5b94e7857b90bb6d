# Totals (pandas' margins=TRUE): an "All" row (and column) computed over each margin's own rows, so a person
# counts once in a total however many of its cells they appear in; and secondary suppression, which hides
# the cells from which a suppressed cell could be worked out from the totals. That is run by the one
# implementation the Python wrappers and the server use (egress_review.checks.suppression.protect), through
# the image's Python, so both languages protect a table the same way.

# Statistics and values of a rows x cols table with its margins; ``cell_fun(g, n)`` gives the values
.add_margins <- function(p, st, vals, v, agg, m, need_top, values_for_stats, count_table, has_cols, margins_name) {
  R <- p$rows$n
  C <- p$cols$n
  rg <- ifelse(is.na(p$g), NA_integer_, p$rows$codes)
  cg <- ifelse(is.na(p$g), NA_integer_, p$cols$codes)
  gg <- ifelse(is.na(p$g), NA_integer_, 1L)
  row_st <- .group_stats(rg, R, values_for_stats, p$entity, m, need_top)
  col_st <- .group_stats(cg, C, values_for_stats, p$entity, m, need_top)
  grand <- .group_stats(gg, 1L, values_for_stats, p$entity, m, need_top)
  CC <- C + has_cols
  out <- list()
  for (k in setdiff(names(st), "top")) {
    a <- matrix(0, R + 1, CC)
    a[seq_len(R), seq_len(C)] <- matrix(as.numeric(st[[k]]), R, C, byrow = TRUE)
    if (has_cols) {
      a[seq_len(R), CC] <- row_st[[k]]
      a[R + 1, CC] <- grand[[k]]
    }
    a[R + 1, seq_len(C)] <- if (has_cols) col_st[[k]] else grand[[k]]
    out[[k]] <- a
  }
  if (!is.null(st$top)) {
    a <- array(NA_real_, c(R + 1, CC, m))
    for (i in seq_len(R)) for (j in seq_len(C)) a[i, j, ] <- st$top[(i - 1) * C + j, ]
    if (has_cols) {
      for (i in seq_len(R)) a[i, CC, ] <- row_st$top[i, ]
      a[R + 1, CC, ] <- grand$top[1, ]
      for (j in seq_len(C)) a[R + 1, j, ] <- col_st$top[j, ]
    } else {
      a[R + 1, 1, ] <- grand$top[1, ]
    }
    out$top <- a
  }
  value <- function(g, n) if (count_table) as.numeric(tabulate(g[!is.na(g)], n)) else .cells(v, g, n, agg)
  full <- matrix(NA_real_, R + 1, CC)
  full[seq_len(R), seq_len(C)] <- vals
  if (has_cols) {
    full[seq_len(R), CC] <- value(rg, R)
    full[R + 1, CC] <- value(gg, 1L)
    full[R + 1, seq_len(C)] <- value(cg, C)
  } else {
    full[R + 1, 1] <- value(gg, 1L)
  }
  rows <- .row_frame(p$rows)
  total <- as.list(c(margins_name, rep("", ncol(rows) - 1)))
  names(total) <- names(rows)
  rows <- rbind(rows, as.data.frame(total, stringsAsFactors = FALSE, optional = TRUE))
  mask <- matrix(FALSE, R + 1, CC)
  mask[R + 1, ] <- TRUE
  if (has_cols) mask[, CC] <- TRUE
  list(vals = full, arrays = out, rows = rows, mask = mask, row_margin = has_cols, col_margin = TRUE)
}

# The cells to hide: the primary ones plus complements, from egress_review.checks.suppression.protect
.protect <- function(values, primary, row_margin, col_margin, policy) {
  io <- tempfile(fileext = ".json")
  on.exit(unlink(c(io, paste0(io, ".out"), paste0(io, ".py"))))
  writeLines(as.character(jsonlite::toJSON(list(
    values = values, primary = primary, row_margin = row_margin, col_margin = col_margin,
    line_total_min = policy$secondary_suppression$line_total_min,
    min_interval = policy$secondary_suppression$min_interval), digits = NA, auto_unbox = TRUE)), io)
  writeLines(c(
    "import json, sys, numpy as np",
    "from egress_review.checks.suppression import protect",
    "a = json.load(open(sys.argv[1]))",
    "v = np.array(a['values'], dtype=float); p = np.array(a['primary'], dtype=bool)",
    "plan = protect(np.nan_to_num(v), p, np.full(v.shape[0], a['row_margin']), np.full(v.shape[1], a['col_margin']),",
    "               a['line_total_min'], min_interval=a['min_interval'])",
    "json.dump(plan.suppressed.tolist(), open(sys.argv[1] + '.out', 'w'))"), paste0(io, ".py"))
  status <- system2(.python(), c(shQuote(paste0(io, ".py")), shQuote(io)))
  if (status != 0) stop("secondary suppression failed (egress_review.checks.suppression)", call. = FALSE)
  out <- jsonlite::fromJSON(paste0(io, ".out"))
  matrix(as.logical(out), nrow(values), ncol(values))
}
