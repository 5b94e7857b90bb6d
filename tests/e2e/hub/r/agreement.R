# The R half of test_r_sdc_agreement.py: the same tables as the Python half, made with library(sdc) in the
# notebook image, each exported under its default name with its sidecar, its per-cell outcome beside it.
library(sdc)
setwd("/work/out")
df <- sdc_read_extract("/work/data.parquet")  # remembered: the server can replay the tables from it
rounded <- sdc_policy("/work/rounding.yaml")
missing_on <- sdc_policy("/work/missing.yaml")
results <- list(
  people = sdc_crosstab(df, "area", "gender", entity = "person"),
  days_sum = sdc_crosstab(df, "area", "year", values = "days", fun = "sum", entity = "person"),
  two_rows = sdc_crosstab(df, c("area", "gender"), "year"),
  mean_days = sdc_table(df, "area", "year", values = "days", fun = "mean", entity = "person"),
  median_days = sdc_table(df, "area", values = "days", fun = "median"),
  describe = sdc_aggregate(df, "area", "days", stats = c("count", "mean", "std", "min", "median", "max"),
                           entity = "person"),
  rounded = sdc_crosstab(df, "area", "gender", entity = "person", policy = rounded, name = "rounded_people"),
  ols = sdc_lm(days ~ age, df),
  ols_small = sdc_lm(days ~ age, df[1:8, ], name = "ols_small"),
  logit = sdc_glm(long ~ age, df),
  edge_keys = sdc_crosstab(df, "unit", "flag", entity = "person"),
  edge_float = sdc_table(df, "score", "flag", values = "hours", fun = "sum", entity = "person", policy = missing_on),
  edge_missing = sdc_aggregate(df, "unit", "hours", stats = c("count", "mean", "median"), policy = missing_on),
  people_totals = sdc_crosstab(df, "area", "gender", entity = "person", margins = TRUE, name = "people_totals"),
  days_totals = sdc_crosstab(df, "area", "year", values = "days", fun = "sum", margins = TRUE,
                             margins_name = "Total", name = "days_totals"),
  two_rows_totals = sdc_crosstab(df, c("area", "gender"), "year", margins = TRUE, name = "two_rows_totals"),
  mean_totals = sdc_table(df, "area", "year", values = "days", fun = "mean", entity = "person", margins = TRUE,
                          name = "mean_totals"),
  rounded_totals = sdc_crosstab(df, "area", "gender", entity = "person", margins = TRUE, policy = rounded,
                                name = "rounded_totals"),
  sum_by_area = sdc_table(df, "area", values = "days", fun = "sum", margins = TRUE, name = "sum_by_area"),
  filtered = sdc_crosstab(sdc_where(df, list("days", ">=", 5), year = 2023), "area", "gender", entity = "person",
                          name = "filtered"),
  derived = sdc_crosstab(df[df$year == 2023, ], "area", "gender", entity = "person", name = "derived")
)
index <- character()
for (key in names(results)) {
  r <- results[[key]]
  out <- sdc_export(r)
  utils::write.csv(r$outcome, paste0(out[["table"]], ".outcome.csv"), row.names = FALSE, fileEncoding = "UTF-8")
  index <- c(index, paste(key, basename(out[["table"]]), r$summary$status, sep = "\t"))
}
writeLines(index, "index.tsv")
