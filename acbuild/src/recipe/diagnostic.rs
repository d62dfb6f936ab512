//! Recipe diagnostics: every problem found in a recipe, pointing at the recipe text.
//!
//! A [`RecipeError`] carries the file name and text, the span at fault, a label, a hint and, for
//! conflicts, a second span ("first claimed here"), so miette renders `file:line:col` with both
//! snippets. [`RecipeErrors`] gathers every problem of one recipe: authors see them all at once.

use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode, SourceSpan};

/// One problem in a recipe.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RecipeError {
    message: String,
    label: String,
    span: SourceSpan,
    help: Option<String>,
    related: Option<(SourceSpan, String)>,
    file: Arc<NamedSource<String>>,
}

impl RecipeError {
    /// The message, without location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The span at fault.
    pub fn span(&self) -> SourceSpan {
        self.span
    }

    /// The 1-based line and column (in characters) where the problem starts.
    pub fn line_col(&self) -> (usize, usize) {
        line_col(self.file.inner(), self.span.offset())
    }

    /// The 1-based line and column of the second span ("first claimed here"), if there is one.
    pub fn related_line_col(&self) -> Option<(usize, usize)> {
        self.related
            .as_ref()
            .map(|(span, _)| line_col(self.file.inner(), span.offset()))
    }

    /// The recipe file name as shown in diagnostics.
    pub fn file_name(&self) -> &str {
        self.file.name()
    }
}

/// 1-based line and column (in characters) of a byte offset; offsets past the end clamp to it.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl std::fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (line, col) = self.0.line_col();
        write!(f, "{}:{line}:{col}: {}", self.0.file_name(), self.0.message)?;
        if let Some(help) = &self.0.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// A one-line rendering `file:line:col: message (help: …)` for logs and `--json` output.
#[derive(Debug)]
pub struct Located<'a>(pub &'a RecipeError);

impl Diagnostic for RecipeError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("acbuild::recipe"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.file.as_ref())
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let main = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let related = self
            .related
            .as_ref()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(main).chain(related)))
    }
}

/// Every problem found in one recipe, in source order.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} in {}", count(.errors.len()), .file)]
pub struct RecipeErrors {
    file: String,
    errors: Vec<RecipeError>,
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

impl RecipeErrors {
    /// The problems, in source order.
    pub fn errors(&self) -> &[RecipeError] {
        &self.errors
    }
}

impl Diagnostic for RecipeErrors {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.errors.iter().map(|e| e as &dyn Diagnostic)))
    }
}

/// Collects the problems of one recipe while it is walked.
#[derive(Debug)]
pub struct Reporter {
    file: Arc<NamedSource<String>>,
    errors: Vec<RecipeError>,
}

impl Reporter {
    /// A reporter for the recipe `name` with text `source`.
    pub fn new(name: &str, source: &str) -> Self {
        Self {
            file: Arc::new(NamedSource::new(name, source.to_owned())),
            errors: Vec::new(),
        }
    }

    /// Record a problem at `span`.
    pub fn error(
        &mut self,
        span: SourceSpan,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        self.push(span, message.into(), label.into(), help, None);
    }

    /// Record a conflict between `span` and an earlier `first` span.
    pub fn conflict(
        &mut self,
        span: SourceSpan,
        first: SourceSpan,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.push(
            span,
            message.into(),
            "claimed again here".to_owned(),
            help,
            Some((first, "first claimed here".to_owned())),
        );
    }

    fn push(
        &mut self,
        span: SourceSpan,
        message: String,
        label: String,
        help: Option<String>,
        related: Option<(SourceSpan, String)>,
    ) {
        self.errors.push(RecipeError {
            message,
            label,
            span,
            help,
            related,
            file: Arc::clone(&self.file),
        });
    }

    /// Whether any problem was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The recorded problems, for a caller that could not produce a value. Should nothing have
    /// been recorded (a bug), a generic problem at the start of the text stands in.
    pub fn into_errors(mut self) -> RecipeErrors {
        if self.errors.is_empty() {
            self.error(
                SourceSpan::from(0..0),
                "the recipe could not be read",
                "here",
                None,
            );
        }
        self.errors.sort_by_key(|e| e.span.offset());
        RecipeErrors {
            file: self.file.name().to_owned(),
            errors: self.errors,
        }
    }

    /// `Ok(value)` when nothing was recorded, otherwise every problem in source order.
    pub fn finish<T>(self, value: T) -> Result<T, RecipeErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.into_errors())
        }
    }
}

/// The closest candidate to `word` within a small edit distance, for "did you mean" hints.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        assert_eq!(line_col("ab\nцdx", 6), (2, 3));
    }

    #[test]
    fn line_col_clamps_past_the_end() {
        assert_eq!(line_col("ab", 10), (1, 3));
    }

    #[test]
    fn suggests_the_nearest_name() {
        assert_eq!(
            did_you_mean("progam", &["program", "file"]),
            Some("program")
        );
    }

    #[test]
    fn suggests_nothing_for_unrelated_words() {
        assert_eq!(did_you_mean("zzzzzz", &["program", "file"]), None);
    }
}
