# Reference values for tests/stats_reference.rs, computed by base R (no CRAN package).
#
# Run from the crate root:  Rscript tests/data/stats/reference.R
# Writes tests/data/stats/r_reference.json; then run reference.py for the scipy values.
#
# Large samples are not stored value by value: each is a generator spec that R, Python and the
# Rust test expand to the same doubles, because it uses only IEEE operations that every
# language rounds alike (products, sums, floor):
#   u_i = i * alpha - floor(i * alpha)          for i = 1..n
#   v_i = offset + scale * (u_i, u_i * u_i or (u_i * u_i) * u_i for power 1, 2 or 3)
#   v_i = floor(v_i)                            when floor is true (to make ties)

G <- function(n, alpha, offset = 0, scale = 1, power = 1, floor = FALSE)
  structure(list(n = n, alpha = alpha, offset = offset, scale = scale, power = power,
                 floor = floor), class = "gen")

expand <- function(s) {
  if (!inherits(s, "gen")) return(s)
  i <- as.double(seq_len(s$n))
  u <- i * s$alpha - floor(i * s$alpha)
  v <- if (s$power == 1) u else if (s$power == 2) u * u else (u * u) * u
  v <- s$offset + s$scale * v
  if (s$floor) floor(v) else v
}

# Numbers are written as strings of 17 significant digits: a JSON reader may round a long
# JSON number to a neighbouring double (serde_json does without its float_roundtrip feature),
# while every language's string-to-double conversion is correctly rounded.
num <- function(v) {
  if (length(v) != 1 || is.na(v) || is.infinite(v)) "null" else str(sprintf("%.17g", v))
}
str <- function(s) paste0("\"", gsub("\"", "'", s, fixed = TRUE), "\"")
arr <- function(v) paste0("[", paste(vapply(v, num, ""), collapse = ","), "]")
obj <- function(...) {
  kv <- list(...)
  paste0("{", paste(paste0(str(names(kv)), ":", unlist(kv)), collapse = ","), "}")
}
sample_json <- function(s) {
  if (inherits(s, "gen"))
    obj(gen = obj(n = num(s$n), alpha = num(s$alpha), offset = num(s$offset),
                  scale = num(s$scale), power = num(s$power),
                  floor = if (s$floor) "true" else "false"))
  else arr(s)
}
# Warnings (ties, "Chi-squared approximation may be incorrect") are expected and muffled;
# errors are recorded as such: the Rust side must then answer None.
attempt <- function(expr) tryCatch(suppressWarnings(expr), error = function(e) e)

# The exact interval ends: the pairwise differences x_i - y_j at which wilcox.test's own
# statistic (two-sided, continuity-corrected, tie-corrected variance, as in its conf.int code)
# crosses the normal quantile. uniroot only stops within 1e-4 of these. Every distinct
# difference is listed; the statistic is read at the midpoint of each stretch between
# neighbouring differences (no jump inside), and the end is the difference that closes the
# last stretch where it is above the quantile.
exact_end <- function(x, y, zq) {
  n.x <- length(x); n.y <- length(y)
  stat <- function(d) {
    dr <- rank(c(x - d, y))
    NTIES.CI <- table(dr)
    dz <- sum(dr[seq_along(x)]) - n.x * (n.x + 1) / 2 - n.x * n.y / 2
    SIGMA.CI <- sqrt((n.x * n.y / 12) * ((n.x + n.y + 1) -
                     sum(NTIES.CI^3 - NTIES.CI) / ((n.x + n.y) * (n.x + n.y - 1))))
    (dz - sign(dz) * 0.5) / SIGMA.CI - zq
  }
  diffs <- sort(unique(as.vector(outer(x, y, "-"))))
  K <- length(diffs)
  if (stat(diffs[1] - 1) <= 0) return(diffs[1])
  if (stat(diffs[K] + 1) > 0) return(diffs[K])
  # Stretch k lies between diffs[k] and diffs[k + 1]; find the first at or below zero.
  above <- function(k) stat((diffs[k] + diffs[k + 1]) / 2) > 0
  lo <- 1; hi <- K  # stretch K is the one right of diffs[K], known to be at or below zero
  while (lo < hi) {
    mid <- (lo + hi) %/% 2
    if (above(mid)) lo <- mid + 1 else hi <- mid
  }
  diffs[lo]
}

wilcox_case <- function(name, x, y, note = "") {
  xv <- expand(x); yv <- expand(y)
  test <- sapply(c("two.sided", "less", "greater"), function(alt) {
    r <- attempt(wilcox.test(xv, yv, alternative = alt, correct = TRUE))
    if (inherits(r, "error")) return(obj(error = str(conditionMessage(r))))
    obj(w = num(unname(r$statistic)), p = num(r$p.value),
        exact = if (grepl("exact", r$method)) "true" else "false")
  })
  names(test) <- c("two_sided", "less", "greater")
  shift <- sapply(c(0.95, 0.98), function(level) {
    r <- attempt(wilcox.test(xv, yv, conf.int = TRUE, conf.level = level, exact = FALSE,
                             correct = TRUE))
    if (inherits(r, "error")) return(obj(error = str(conditionMessage(r))))
    zq <- qnorm((1 - level) / 2, lower.tail = FALSE)
    obj(estimate = num(unname(r$estimate)), lower = num(r$conf.int[1]),
        upper = num(r$conf.int[2]), exact_lower = num(exact_end(xv, yv, zq)),
        exact_upper = num(exact_end(xv, yv, -zq)))
  })
  names(shift) <- c("0.95", "0.98")
  obj(name = str(name), note = str(note), x = sample_json(x), y = sample_json(y),
      test = do.call(obj, as.list(test)), shift = do.call(obj, as.list(shift)))
}

prop_case <- function(name, x1, n1, x2, n2, note = "") {
  alts <- c(two_sided = "two.sided", less = "less", greater = "greater")
  res <- lapply(alts, function(alt) {
    levels <- lapply(c(0.95, 0.98), function(level) {
      r <- attempt(prop.test(c(x1, x2), c(n1, n2), alternative = alt, conf.level = level,
                             correct = TRUE))
      if (inherits(r, "error")) return(obj(error = str(conditionMessage(r))))
      obj(p = num(r$p.value), lower = num(r$conf.int[1]), upper = num(r$conf.int[2]))
    })
    names(levels) <- c("0.95", "0.98")
    do.call(obj, levels)
  })
  obj(name = str(name), note = str(note), x1 = num(x1), n1 = num(n1), x2 = num(x2),
      n2 = num(n2), test = do.call(obj, res))
}

golden <- (sqrt(5) - 1) / 2
wilcox <- list(
  wilcox_case("design golden case", c(10, 20, 30, 40), c(1, 2, 3, 4),
              "DESIGN.md: interval [6, 39] and estimate 22.5 at 95%"),
  wilcox_case("kayenta fault: seven spikes of 100 among ones", c(rep(100, 7), rep(1, 3)),
              rep(1, 10), "Kayenta passes this canary"),
  wilcox_case("kayenta fault: small counts against zeros", c(0, 1, 2, 1, 0, 0), rep(0, 6),
              "Kayenta passes this canary"),
  wilcox_case("kayenta fault inverted: ones against spikes", rep(1, 10),
              c(rep(100, 7), rep(1, 3))),
  wilcox_case("ties within and across samples", c(1, 2, 2, 3, 3, 3), c(2, 3, 3, 4, 4, 5)),
  wilcox_case("small exact, shifted up", c(1.1, 2.3, 3.5, 4.2, 5.9), c(0.5, 1.0, 1.7, 2.2)),
  wilcox_case("one canary value against three", 5, c(1, 2, 3)),
  wilcox_case("three canary values against one", c(1, 2, 3), 5),
  wilcox_case("one value against one", 2, 1, "R cannot compute the interval"),
  wilcox_case("one value against the same value", 1, 1),
  wilcox_case("constant samples, equal", c(1, 1, 1), c(1, 1, 1),
              "R's two-sided p is NaN; slogate answers 1"),
  wilcox_case("constant samples, different", c(2, 2, 2), c(1, 1, 1)),
  wilcox_case("constant canary against varied baseline", c(5, 5, 5, 5), c(1, 2, 3, 4, 5, 6)),
  wilcox_case("exact, 20 against 25", G(20, golden, 10, 5), G(25, sqrt(2) - 1, 9, 5)),
  wilcox_case("exact at the limit, 49 against 49", G(49, golden, 0, 1, 2),
              G(49, sqrt(3) - 1, 0.1, 1, 2)),
  wilcox_case("normal approximation at 50 against 10, no ties", G(50, golden, 3, 2),
              G(10, sqrt(2) - 1, 3.5, 2)),
  wilcox_case("normal approximation at 10 against 50, no ties", G(10, golden, 3, 2),
              G(50, sqrt(2) - 1, 3.5, 2)),
  wilcox_case("negative and mixed-sign values", c(-3.2, -1.5, 0, 0.7, 2.4, -0.3),
              c(-2.1, -0.8, 0.5, 1.9, 3.3)),
  wilcox_case("completely separated, exact", as.double(11:20), as.double(1:10)),
  wilcox_case("completely separated, 100 against 100", G(100, golden, 50, 10),
              G(100, sqrt(2) - 1, 0, 10), "far tail of the normal approximation"),
  wilcox_case("large magnitudes near 1e12", 1e12 + c(1, 5, 9, 13, 17),
              1e12 + c(2, 3, 4, 6, 7, 8)),
  wilcox_case("tiny magnitudes near 1e-9", c(1.5, 3.25, 2.75, 4.5, 0.25) * 1e-9,
              c(1, 2, 3, 0.5, 2.25, 1.75) * 1e-9),
  wilcox_case("latencies with one slow canary request", c(12, 15, 14, 13, 400, 16, 15, 14),
              c(12, 13, 14, 15, 13, 14, 12, 16)),
  wilcox_case("interleaved, no shift", c(1, 3, 5, 7, 9), c(2, 4, 6, 8, 10)),
  wilcox_case("heavy ties on three values", c(0, 0, 0, 1, 1, 2, 2, 2, 2),
              c(0, 1, 1, 1, 2, 2, 0, 1)),
  wilcox_case("large, 5000 against 5000, continuous", G(5000, golden, 100, 50, 2),
              G(5000, sqrt(2) - 1, 98, 50, 2)),
  wilcox_case("large, 5000 against 4000, integer values with heavy ties",
              G(5000, sqrt(3) - 1, 20, 30, 1, TRUE), G(4000, sqrt(5) - 2, 19, 30, 1, TRUE)),
  wilcox_case("large, 3000 against 2000, skewed, shifted", G(3000, 2 - golden - 1, 105, 40, 3),
              G(2000, sqrt(7) - 2, 100, 40, 3)),
  wilcox_case("large, identical samples of 2000", G(2000, golden, 0, 100, 2),
              G(2000, golden, 0, 100, 2)),
  wilcox_case("60 against 55 with ties", G(60, golden, 0, 12, 1, TRUE),
              G(55, sqrt(2) - 1, 1, 12, 1, TRUE))
)

props <- list(
  prop_case("error rates 0.5% vs 0.3% of 1000", 5, 1000, 3, 1000),
  prop_case("tiny rates near 1e-3 over a million", 1100, 1e6, 1000, 1e6),
  prop_case("tiny rates near 1e-3 over 1e8", 100500, 1e8, 100000, 1e8),
  prop_case("tiny rates near 1e-5", 14, 1e6, 9, 1e6),
  prop_case("no canary events", 0, 500, 3, 500, "ratio 0, no Katz interval"),
  prop_case("no baseline events", 3, 500, 0, 500, "ratio undefined"),
  prop_case("no events on either side", 0, 100, 0, 100,
            "R's p is NaN (0/0); slogate answers 1 two-sided and 0.5 one-sided"),
  prop_case("equal rates", 50, 1000, 50, 1000),
  prop_case("every request an event on one side", 100, 100, 90, 100),
  prop_case("small counts", 1, 3, 2, 5),
  prop_case("unequal sizes, canary much worse", 40, 800, 120, 12000)
)

out <- paste0("{",
  str("r_version"), ":", str(R.version.string), ",",
  str("wilcox"), ":[", paste(unlist(wilcox), collapse = ",\n"), "],\n",
  str("proportions"), ":[", paste(unlist(props), collapse = ",\n"), "]}\n")
dir <- "tests/data/stats"
writeLines(out, file.path(dir, "r_reference.json"), sep = "")
cat("wrote", length(wilcox), "rank cases and", length(props), "proportion cases\n")
