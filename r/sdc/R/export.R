# sdc_export(): the table as a CSV (or TSV) and its sidecar <file>.sdc.json in the format
# egress_review.checks.sidecar.Sidecar reads (schema: egress_review/sdc/sidecar.schema.json).

.csv_field <- function(x) {
  needs <- grepl("[,\"\r\n\t]", x)
  ifelse(needs, paste0("\"", gsub("\"", "\"\"", x, fixed = TRUE), "\""), x)
}

.cell_text <- function(x) {
  if (is.numeric(x)) {
    out <- ifelse(is.na(x), "", ifelse(x == round(x) & abs(x) < 1e15, formatC(x, format = "d", big.mark = ""),
                                       as.character(x)))
    return(unname(out))
  }
  if (is.logical(x)) return(ifelse(is.na(x), "", ifelse(x, "True", "False")))
  out <- as.character(x)
  out[is.na(out)] <- ""
  out
}

.write_table <- function(frame, path, sep) {
  lines <- paste(.csv_field(names(frame)), collapse = sep)
  if (nrow(frame)) {
    cols <- lapply(frame, function(x) .csv_field(.cell_text(x)))
    lines <- c(lines, do.call(paste, c(cols, sep = sep)))
  }
  con <- file(path, open = "wb")
  on.exit(close(con))
  writeBin(charToRaw(enc2utf8(paste0(paste(lines, collapse = "\n"), "\n"))), con)
}

.sha256 <- function(path) digest::digest(file = path, algo = "sha256")

.null_na <- function(x) if (is.null(x)) NULL else I(ifelse(is.na(x), NA, x))

.file_name <- function(res) {
  name <- if (!is.null(res$name)) res$name else if (nzchar(res$default_name)) res$default_name else res$command
  .check_name(name)
  if (grepl("\\.(csv|tsv|xlsx|parquet)$", tolower(name))) name else paste0(name, ".csv")
}

.check_name <- function(name) {
  name <- trimws(as.character(name))
  if (!nzchar(name) || name %in% c(".", "..") || startsWith(name, ".") || grepl("[/\\\\]", name)) {
    stop(sprintf("'%s' is not a plain file name (no folders, not starting with a dot)", name), call. = FALSE)
  }
  name
}

#' Write the table (the protected one unless \code{protected = FALSE}) and its sidecar; returns both paths.
sdc_export <- function(result, path = NULL, protected = TRUE) {
  if (!inherits(result, "sdc_result")) stop("sdc_export takes a result of an sdc_ wrapper", call. = FALSE)
  path <- if (is.null(path)) .file_name(result) else path
  suffix <- tolower(tools::file_ext(path))
  if (!suffix %in% c("csv", "tsv")) stop("R tables are exported as .csv or .tsv", call. = FALSE)
  frame <- if (protected) result$protected else result$table
  .write_table(frame, path, if (suffix == "tsv") "\t" else ",")
  n_levels <- result$index_levels
  labels <- frame[seq_len(n_levels)]
  row_labels <- if (n_levels) do.call(paste, c(lapply(labels, .cell_text), sep = " / ")) else character()
  body <- result$column_labels
  cells <- NULL
  if (!is.null(result$cells)) {
    cl <- result$cells
    cells <- list(agg = I(cl$agg), count = .null_na(cl$count), rows = I(as.integer(cl$rows)),
                  total = .null_na(cl$total),
                  top = if (is.null(cl$top)) NULL else lapply(seq_len(nrow(cl$top)), function(i) I(cl$top[i, ])),
                  negative = if (is.null(cl$negative)) NULL else I(as.integer(.nz(cl$negative))),
                  missing = if (is.null(cl$missing)) NULL else I(as.integer(.nz(cl$missing))),
                  suppressed = I(if (protected) cl$suppressed else rep(FALSE, length(cl$suppressed))),
                  margin = I(cl$margin))
  }
  sc <- list(format = "sandkasse-sdc-sidecar", version = 1L, kind = result$kind, command = result$command,
             aggfunc = I(as.character(result$aggfunc)), entity = result$entity,
             unit = if (is.null(result$entity)) "rows" else "entities", table_file = basename(path),
             sha256 = .sha256(path), file_format = suffix, index_levels = n_levels,
             shape = I(c(nrow(frame), length(body))), row_labels = I(row_labels),
             column_labels = I(body), margins = isTRUE(result$margins),
             margins_name = if (is.null(result$margins_name)) "All" else result$margins_name,
             row_totals = isTRUE(result$row_totals), column_totals = isTRUE(result$column_totals),
             additive = isTRUE(result$additive), secondary_suppression = isTRUE(result$secondary), policy = result$policy, cells = cells, dof = result$dof,
             rounding = if (protected) result$rounding else NULL,
             replay = if (is.null(result[["replay"]])) NULL else c(result[["replay"]], list(protected = protected)),
             replay_problem = if (is.null(result[["replay"]])) result[["replay_problem"]] else NULL,
             created_at = format(Sys.time(), "%Y-%m-%dT%H:%M:%S+00:00", tz = "UTC"),
             generator = "sandkasse R sdc")
  side <- paste0(path, ".sdc.json")
  json <- jsonlite::toJSON(sc, auto_unbox = TRUE, null = "null", na = "null", digits = NA, pretty = FALSE)
  con <- file(side, open = "wb")
  on.exit(close(con))
  writeBin(charToRaw(enc2utf8(as.character(json))), con)
  invisible(c(table = path, sidecar = side))
}
