//! A scenario's result: its parameters and one table, printed as text or kept for `--json`.

use serde::Serialize;
use serde_json::Value;

/// What one scenario measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub parameters: serde_json::Map<String, Value>,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
    /// What a reader needs to read the table right.
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &'static str, columns: &[&'static str]) -> Self {
        Self {
            scenario,
            parameters: serde_json::Map::new(),
            columns: columns.to_vec(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn parameter(&mut self, name: &str, value: impl Into<Value>) {
        self.parameters.insert(name.to_owned(), value.into());
    }

    pub fn row(&mut self, cells: Vec<Value>) {
        self.rows.push(cells);
    }

    /// Prints the parameters, then the table with right-aligned numbers.
    pub fn print(&self) {
        println!("== {} ==", self.scenario);
        for (name, value) in &self.parameters {
            println!("  {name}: {}", cell(value));
        }
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(cell).collect())
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .filter_map(|r| r.get(i).map(String::len))
                    .fold(c.len(), usize::max)
            })
            .collect();
        let line = |items: Vec<String>| {
            let padded: Vec<String> = items
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (s, w))| {
                    if i == 0 {
                        format!("{s:<w$}")
                    } else {
                        format!("{s:>w$}")
                    }
                })
                .collect();
            println!("  {}", padded.join("  ").trim_end());
        };
        line(self.columns.iter().map(|c| (*c).to_owned()).collect());
        for row in cells {
            line(row);
        }
        for note in &self.notes {
            println!("  note: {note}");
        }
        println!();
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.2}"),
            _ => n.to_string(),
        },
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A float rounded to two places for the JSON form too.
pub fn num(x: f64) -> Value {
    serde_json::Number::from_f64((x * 100.0).round() / 100.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}
