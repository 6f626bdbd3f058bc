//! Placeholder substitution for agent arguments, environment values and prompts.
//!
//! Known placeholders (`{prompt}`, `{spec_id}`, `{stage}`, `{previous_outputs}`, `{attempt}`)
//! are replaced in one pass, so a substituted value is never expanded again; any other text in
//! braces (JSON in a prompt, say) is left alone.
//!
//! ```
//! use synod::orchestrator::Vars;
//!
//! let vars = Vars { spec_id: "S-1", stage: "plan", prompt: "say {stage}", previous_outputs: "[]", attempt: 2 };
//! assert_eq!(vars.render("{spec_id}/{stage} #{attempt}: {prompt} {\"x\": 1}"),
//!            "S-1/plan #2: say {stage} {\"x\": 1}");
//! ```

/// The values placeholders expand to.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// `{spec_id}`.
    pub spec_id: &'a str,
    /// `{stage}`.
    pub stage: &'a str,
    /// `{prompt}`: the stage prompt, already rendered.
    pub prompt: &'a str,
    /// `{previous_outputs}`: a JSON array of `{"agent", "output"}` from earlier agents
    /// (sequential mode; `[]` otherwise).
    pub previous_outputs: &'a str,
    /// `{attempt}`: 1 for the first attempt.
    pub attempt: u32,
}

impl Vars<'_> {
    /// `template` with every known placeholder replaced.
    #[must_use]
    pub fn render(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let tail = &rest[open..];
            const NAMES: [&str; 5] = [
                "{prompt}",
                "{spec_id}",
                "{stage}",
                "{previous_outputs}",
                "{attempt}",
            ];
            match NAMES.iter().position(|name| tail.starts_with(name)) {
                Some(i) => {
                    match i {
                        0 => out.push_str(self.prompt),
                        1 => out.push_str(self.spec_id),
                        2 => out.push_str(self.stage),
                        3 => out.push_str(self.previous_outputs),
                        _ => out.push_str(&self.attempt.to_string()),
                    }
                    rest = &tail[NAMES[i].len()..];
                }
                None => {
                    out.push('{');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Whether `template` mentions `{prompt}`.
    #[must_use]
    pub fn mentions_prompt(template: &str) -> bool {
        template.contains("{prompt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vars<'a>(prompt: &'a str) -> Vars<'a> {
        Vars {
            spec_id: "S",
            stage: "st",
            prompt,
            previous_outputs: "[1]",
            attempt: 3,
        }
    }

    #[test]
    fn replaces_all_known() {
        assert_eq!(
            vars("p").render("{prompt}|{spec_id}|{stage}|{previous_outputs}|{attempt}|{other}|{"),
            "p|S|st|[1]|3|{other}|{"
        );
    }

    proptest! {
        #[test]
        fn text_without_placeholders_is_unchanged(s in "[^{]*|[a-z{}\" :]*") {
            prop_assume!(!["{prompt}", "{spec_id}", "{stage}", "{previous_outputs}", "{attempt}"].iter().any(|p| s.contains(p)));
            prop_assert_eq!(vars("x").render(&s), s);
        }

        #[test]
        fn values_are_not_expanded_twice(p in ".*") {
            prop_assert_eq!(vars(&p).render("{prompt}"), p);
        }
    }
}
