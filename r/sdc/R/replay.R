# How the server can make an R table again from the extract (egress_review.replay, which runs the Python
# wrappers on the extract): the replay specification of egress_review.sdc.provenance. A data frame read
# with sdc_read_extract() remembers the file, its SHA-256 and a digest of every column; a wrapper call is
# described only when every column it uses is still that column, unchanged (a derived column, or rows
# dropped in R, makes the table "not replayable", never a false claim about its data).

.ORIGIN <- "sandkasse_extract"

.column_digest <- function(x) digest::digest(x, algo = "xxhash64")

.remember_extract <- function(df, path) {
  attr(df, .ORIGIN) <- list(source = basename(path), source_sha256 = .sha256(path), n = nrow(df),
                            digests = vapply(df, .column_digest, character(1)))
  df
}

# (spec, NULL) or (NULL, why not); ``args`` as the Python wrapper's parameters (columns by name)
.describe_replay <- function(data, call, args, entity, used) {
  origin <- attr(data, .ORIGIN)
  if (is.null(origin)) return(list(NULL, "its data was not read with sdc_read_extract"))
  used <- unique(c(used, entity))
  same <- nrow(data) == origin$n && all(used %in% names(origin$digests)) &&
    all(vapply(used, function(c) identical(.column_digest(data[[c]]), unname(origin$digests[c])), logical(1)))
  if (!same) return(list(NULL, "the data frame is not the extract as read (derived columns or rows dropped in R)"))
  filters <- if (is.null(origin$filters)) list() else origin$filters
  list(list(source = origin$source, source_sha256 = origin$source_sha256, filters = I(filters), call = call,
            args = args, entity = entity), NULL)
}

.with_replay <- function(result, data, call, args, entity, used) {
  d <- tryCatch(.describe_replay(data, call, args, entity, used),
                error = function(e) list(NULL, sprintf("it could not be described (%s)", conditionMessage(e))))
  result["replay"] <- list(d[[1]])  # kept as NULL, not dropped: `$` would then match replay_problem
  result["replay_problem"] <- list(d[[2]])
  result
}

.FILTER_OPS <- c("==", "!=", "in", "not in", "<", "<=", ">", ">=")

.filter_mask <- function(df, f) {
  col <- df[[f$column]]
  keep <- switch(f$op,
                 "in" = col %in% f$value, "not in" = !(col %in% f$value),
                 "==" = col == f$value, "!=" = col != f$value, "<" = col < f$value, "<=" = col <= f$value,
                 ">" = col > f$value, ">=" = col >= f$value)
  keep & !is.na(keep) & (f$op %in% c("in", "not in") | !is.na(col))
}

#' The rows of \code{df} that meet every condition, remembered for the server's replay (egress_review.sdc.where):
#' \code{sdc_where(df, area = "Helse", year = c(2023, 2024))} keeps one value or any of several, and
#' \code{sdc_where(df, list("days", ">=", 14))} compares (==, !=, in, not in, <, <=, >, >=).
sdc_where <- function(df, ...) {
  conds <- list(...)
  given <- names(conds)
  if (is.null(given)) given <- rep("", length(conds))
  filters <- list()
  for (i in seq_along(conds)) {
    c <- conds[[i]]
    if (nzchar(given[i])) {
      filters[[length(filters) + 1]] <- if (length(c) > 1) list(column = given[i], op = "in", value = I(c))
                                        else list(column = given[i], op = "==", value = c)
    } else {
      if (length(c) != 3 || !c[[2]] %in% .FILTER_OPS) {
        stop(sprintf("a condition is list(column, op, value) with op one of %s", paste(.FILTER_OPS, collapse = ", ")), call. = FALSE)
      }
      value <- c[[3]]
      filters[[length(filters) + 1]] <- list(column = c[[1]], op = c[[2]],
                                             value = if (c[[2]] %in% c("in", "not in")) I(value) else value)
    }
  }
  for (f in filters) if (!f$column %in% names(df)) stop(sprintf("no column '%s'", f$column), call. = FALSE)
  keep <- rep(TRUE, nrow(df))
  for (f in filters) keep <- keep & .filter_mask(df, f)
  origin <- attr(df, .ORIGIN)
  out <- df[keep, , drop = FALSE]
  rownames(out) <- NULL
  if (is.null(origin)) {
    attr(out, .ORIGIN) <- NULL
    return(out)
  }
  same <- nrow(df) == origin$n && all(vapply(names(df), function(c) c %in% names(origin$digests) &&
    identical(.column_digest(df[[c]]), unname(origin$digests[c])), logical(1)))
  attr(out, .ORIGIN) <- if (!same) NULL else
    list(source = origin$source, source_sha256 = origin$source_sha256, filters = c(origin$filters, filters),
         n = nrow(out), digests = vapply(out, .column_digest, character(1)))
  out
}
