# Per-cell statistics from microdata, laid out like egress_review/sdc/engine.py: the keys of each axis
# are sorted (pandas' order: numbers by value, text by code point) and only the combinations present in
# the data get a row or column; with an entity, units are distinct entities and contributions are summed
# per entity before the largest are taken.

# How a label is written in files and sidecars (egress_review.checks.sidecar.label_text)
.label_text <- function(x) {
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x)) return(ifelse(is.na(x), "NaN", ifelse(x, "True", "False")))
  if (is.numeric(x)) {
    out <- ifelse(is.na(x), "NaN",
                  ifelse(x == round(x) & abs(x) < 1e15, formatC(x, format = "d", big.mark = ""), .shortest(x)))
    return(unname(out))
  }
  out <- as.character(x)
  out[is.na(out)] <- "NaN"
  out
}

# Each number on its own, in as few digits as give it back (Python's repr: 0.5, not 0.50 beside 2.25)
.shortest <- function(x) {
  s <- formatC(x, digits = 15, format = "g")
  bad <- !is.na(x) & suppressWarnings(as.numeric(s)) != x
  s[bad] <- formatC(x[bad], digits = 17, format = "g")
  trimws(s)
}

# Sorted distinct values (code-point order for text, as pandas sorts) and each row's code (NA if missing)
.key_codes <- function(x) {
  if (is.factor(x)) {
    lev <- levels(x)
    return(list(codes = as.integer(x), levels = lev))
  }
  lev <- sort(unique(x[!is.na(x)]), method = "radix")
  list(codes = match(x, lev), levels = lev)
}

# One axis from one or more key columns: observed combinations, in lexicographic order of the keys
.axis <- function(data, keys) {
  n <- nrow(data)
  if (!length(keys)) return(list(codes = rep(1L, n), labels = data.frame(row.names = 1L), n = 1L, names = character()))
  parts <- lapply(keys, function(k) .key_codes(data[[k]]))
  valid <- Reduce(`&`, lapply(parts, function(p) !is.na(p$codes)))
  code <- rep(0, n)
  for (p in parts) code <- code * max(length(p$levels), 1) + ifelse(is.na(p$codes), 0, p$codes - 1)
  present <- sort(unique(code[valid]))
  codes <- ifelse(valid, match(code, present), NA_integer_)
  # digits of each present combination, last key fastest
  labels <- list()
  rest <- present
  for (i in rev(seq_along(parts))) {
    size <- max(length(parts[[i]]$levels), 1)
    labels[[keys[i]]] <- parts[[i]]$levels[rest %% size + 1]
    rest <- rest %/% size
  }
  labels <- as.data.frame(labels[rev(seq_along(keys))], stringsAsFactors = FALSE, optional = TRUE)
  names(labels) <- keys
  list(codes = as.integer(codes), labels = labels, n = length(present), names = keys)
}

.entity_codes <- function(data, entity) {
  if (is.null(entity)) return(NULL)
  e <- data[[entity]]
  if (is.null(e)) stop(sprintf("no column '%s' for entity=", entity), call. = FALSE)
  if (anyNA(e)) stop("the entity column has missing values: every row must belong to a statistical unit", call. = FALSE)
  match(e, unique(e))
}

# The m largest values per group, descending, NA-padded: a (n_groups x m) matrix
.top_m <- function(g, v, n_groups, m) {
  out <- matrix(NA_real_, n_groups, m)
  ok <- !is.na(v) & !is.na(g)
  if (!any(ok)) return(out)
  g <- g[ok]
  v <- v[ok]
  o <- order(g, -v, method = "radix")
  g <- g[o]
  v <- v[o]
  rank <- sequence(tabulate(g, n_groups)[unique(g)])
  keep <- rank <= m
  out[cbind(g[keep], rank[keep])] <- v[keep]
  out
}

.group_sum <- function(v, g, n_groups) {
  out <- numeric(n_groups)
  if (!length(g)) return(out)
  s <- rowsum(v, g)
  out[as.integer(rownames(s))] <- s[, 1]
  out
}

# Statistics per group (group codes 1..n_groups, NA = left out)
.group_stats <- function(g, n_groups, values, entity, m, need_top) {
  keep <- !is.na(g)
  g <- g[keep]
  st <- list(rows = tabulate(g, n_groups))
  ent <- if (is.null(entity)) NULL else entity[keep]
  if (is.null(ent)) {
    st$units <- st$rows
  } else {
    first <- !duplicated((g - 1) * max(ent) + ent)  # one number per (cell, entity) pair: fast to hash
    st$units <- tabulate(g[first], n_groups)
  }
  if (is.null(values)) return(st)
  v <- as.numeric(values[keep])
  isnan <- is.na(v)
  v0 <- ifelse(isnan, 0, v)
  st$total <- .group_sum(v0, g, n_groups)
  st$missing <- tabulate(g[isnan], n_groups)
  st$nonmissing <- st$rows - st$missing
  st$negative <- tabulate(g[!isnan & v < 0], n_groups)
  if (need_top) {
    if (is.null(ent)) {
      st$top <- .top_m(g, v, n_groups, m)
    } else {
      # one contributor per entity: each entity's rows in the group summed first
      n_ent <- max(ent)
      key <- (g - 1) * n_ent + ent
      pairs <- unique(key)
      pi <- match(key, pairs)
      pg <- as.integer((pairs - 1) %/% n_ent + 1)
      psum <- .group_sum(v0, pi, length(pairs))
      psum[.group_sum(as.numeric(!isnan), pi, length(pairs)) == 0] <- NA
      st$top <- .top_m(pg, psum, n_groups, m)
    }
  }
  st
}
