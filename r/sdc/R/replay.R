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
  list(list(source = origin$source, source_sha256 = origin$source_sha256, filters = I(list()), call = call,
            args = args, entity = entity), NULL)
}

.with_replay <- function(result, data, call, args, entity, used) {
  d <- tryCatch(.describe_replay(data, call, args, entity, used),
                error = function(e) list(NULL, sprintf("it could not be described (%s)", conditionMessage(e))))
  result["replay"] <- list(d[[1]])  # kept as NULL, not dropped: `$` would then match replay_problem
  result["replay_problem"] <- list(d[[2]])
  result
}
