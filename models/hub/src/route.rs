//! Message routing conditions (reference §1.10): a small subset of the IoT Hub routing query
//! language, parsed once at configuration time and evaluated per message without allocating
//! on the compact path.
//!
//! Grammar (keywords case-insensitive):
//! ```text
//! expr    := and ( OR and )*
//! and     := unary ( AND unary )*
//! unary   := NOT unary | '(' expr ')' | TRUE | FALSE | IS_DEFINED '(' operand ')' | cmp
//! cmp     := operand ( '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' ) literal
//! operand := '$body.' path | '$contentType' | '$contentEncoding' | '$connectionDeviceId'
//!          | '$connectionModuleId' | app-property-name
//! literal := 'string' | number | true | false
//! ```
//! Semantics follow the reference: application properties are matched case-insensitively;
//! `$body` is only visible when the content type is `application/json` and the encoding
//! UTF-8; a missing operand or a comparison of mismatched types is false ("null/undefined
//! results count as false"), and `NOT` of such a comparison is true, as in SQL-like
//! two-valued evaluation **[simplification]**. Left out: `$twin` operands, functions other
//! than `IS_DEFINED`, arithmetic.

use serde_json::Value;
use std::cmp::Ordering;

/// A condition could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route condition `{text}`: {what} at byte {at}")]
pub struct ConditionError {
    pub text: String,
    pub at: usize,
    pub what: String,
}

/// A value an operand yields on a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

/// What a condition can ask of a message.
pub trait MessageView {
    fn system(&self, prop: SystemProp) -> Option<&str>;
    /// Application property by name (case-insensitive). `Some(None)` for a null value.
    fn app_prop(&self, name: &str) -> Option<Option<&str>>;
    /// A field of the JSON body by dotted path.
    fn body(&self, path: &[String]) -> Option<Val<'_>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemProp {
    ContentType,
    ContentEncoding,
    ConnectionDeviceId,
    ConnectionModuleId,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    System(SystemProp),
    App(String),
    Body(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Const(bool),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    IsDefined(Operand),
    Cmp(Operand, CmpOp, Literal),
}

fn operand_value<'m>(m: &'m dyn MessageView, o: &Operand) -> Option<Val<'m>> {
    match o {
        Operand::System(p) => m.system(*p).map(Val::Str),
        Operand::App(n) => m.app_prop(n).flatten().map(Val::Str),
        Operand::Body(path) => m.body(path),
    }
}

impl Condition {
    /// Evaluates the condition on a message.
    pub fn eval(&self, m: &dyn MessageView) -> bool {
        match self {
            Condition::Const(b) => *b,
            Condition::Not(c) => !c.eval(m),
            Condition::And(a, b) => a.eval(m) && b.eval(m),
            Condition::Or(a, b) => a.eval(m) || b.eval(m),
            Condition::IsDefined(o) => match o {
                Operand::App(n) => m.app_prop(n).is_some(),
                _ => operand_value(m, o).is_some(),
            },
            Condition::Cmp(o, op, lit) => {
                let Some(v) = operand_value(m, o) else {
                    return false;
                };
                let ord = match (v, lit) {
                    (Val::Str(a), Literal::Str(b)) => Some(a.cmp(b.as_str())),
                    (Val::Num(a), Literal::Num(b)) => a.partial_cmp(b),
                    // Application properties are strings on the wire; compare them as numbers
                    // when the literal is a number and the text parses.
                    (Val::Str(a), Literal::Num(b)) => {
                        a.parse::<f64>().ok().and_then(|a| a.partial_cmp(b))
                    }
                    (Val::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
                    _ => None,
                };
                let Some(ord) = ord else {
                    return false;
                };
                match op {
                    CmpOp::Eq => ord == Ordering::Equal,
                    CmpOp::Ne => ord != Ordering::Equal,
                    CmpOp::Lt => ord == Ordering::Less,
                    CmpOp::Le => ord != Ordering::Greater,
                    CmpOp::Gt => ord == Ordering::Greater,
                    CmpOp::Ge => ord != Ordering::Less,
                }
            }
        }
    }

    /// Whether the condition reads the body (the hub then parses raw JSON bodies once).
    pub fn reads_body(&self) -> bool {
        match self {
            Condition::Const(_) => false,
            Condition::Not(c) => c.reads_body(),
            Condition::And(a, b) | Condition::Or(a, b) => a.reads_body() || b.reads_body(),
            Condition::IsDefined(o) | Condition::Cmp(o, _, _) => matches!(o, Operand::Body(_)),
        }
    }

    /// Parses condition text.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let mut p = Parser { s: text, i: 0 };
        let c = p.expr()?;
        p.ws();
        if p.i != text.len() {
            return Err(p.err("unexpected trailing text"));
        }
        Ok(c)
    }
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> ConditionError {
        ConditionError {
            text: self.s.to_string(),
            at: self.i,
            what: what.to_string(),
        }
    }
    fn ws(&mut self) {
        while self.s[self.i..].starts_with(|c: char| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn peek_word(&self) -> &str {
        let rest = &self.s[self.i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    }
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let w = self.peek_word();
        if w.eq_ignore_ascii_case(kw) {
            self.i += w.len();
            true
        } else {
            false
        }
    }
    fn punct(&mut self, p: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(p) {
            self.i += p.len();
            true
        } else {
            false
        }
    }
    fn expr(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.unary()?;
        while self.keyword("AND") {
            let right = self.unary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Condition, ConditionError> {
        if self.keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        if self.punct("(") {
            let c = self.expr()?;
            if !self.punct(")") {
                return Err(self.err("expected `)`"));
            }
            return Ok(c);
        }
        if self.keyword("TRUE") {
            return Ok(Condition::Const(true));
        }
        if self.keyword("FALSE") {
            return Ok(Condition::Const(false));
        }
        if self.keyword("IS_DEFINED") {
            if !self.punct("(") {
                return Err(self.err("expected `(` after IS_DEFINED"));
            }
            let o = self.operand()?;
            if !self.punct(")") {
                return Err(self.err("expected `)`"));
            }
            return Ok(Condition::IsDefined(o));
        }
        let o = self.operand()?;
        self.ws();
        let op = [
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("!=", CmpOp::Ne),
            ("<>", CmpOp::Ne),
            ("=", CmpOp::Eq),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ]
        .into_iter()
        .find(|(t, _)| self.s[self.i..].starts_with(t));
        let Some((tok, op)) = op else {
            return Err(self.err("expected a comparison operator"));
        };
        self.i += tok.len();
        let lit = self.literal()?;
        Ok(Condition::Cmp(o, op, lit))
    }
    fn operand(&mut self) -> Result<Operand, ConditionError> {
        self.ws();
        let rest = &self.s[self.i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "$._-".contains(c)))
            .unwrap_or(rest.len());
        let tok = &rest[..end];
        if tok.is_empty() {
            return Err(self.err("expected an operand"));
        }
        let o = if let Some(path) = tok.strip_prefix("$body.") {
            if path.split('.').any(str::is_empty) {
                return Err(self.err("empty segment in $body path"));
            }
            Operand::Body(path.split('.').map(str::to_string).collect())
        } else if let Some(sys) = tok.strip_prefix('$') {
            Operand::System(match sys {
                "contentType" => SystemProp::ContentType,
                "contentEncoding" => SystemProp::ContentEncoding,
                "connectionDeviceId" => SystemProp::ConnectionDeviceId,
                "connectionModuleId" => SystemProp::ConnectionModuleId,
                _ => return Err(self.err("unsupported system property")),
            })
        } else {
            Operand::App(tok.to_string())
        };
        self.i += end;
        Ok(o)
    }
    fn literal(&mut self) -> Result<Literal, ConditionError> {
        self.ws();
        let rest = &self.s[self.i..];
        if let Some(body) = rest.strip_prefix('\'') {
            let Some(end) = body.find('\'') else {
                return Err(self.err("unterminated string"));
            };
            self.i += end + 2;
            return Ok(Literal::Str(body[..end].to_string()));
        }
        if self.keyword("true") {
            return Ok(Literal::Bool(true));
        }
        if self.keyword("false") {
            return Ok(Literal::Bool(false));
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
            .unwrap_or(rest.len());
        match rest[..end].parse::<f64>() {
            Ok(n) if end > 0 => {
                self.i += end;
                Ok(Literal::Num(n))
            }
            _ => Err(self.err("expected a literal")),
        }
    }
}

/// Looks up a dotted path in a JSON value.
pub fn json_path<'v>(v: &'v Value, path: &[String]) -> Option<Val<'v>> {
    let mut cur = v;
    for seg in path {
        cur = cur.get(seg.as_str())?;
    }
    match cur {
        Value::String(s) => Some(Val::Str(s)),
        Value::Number(n) => n.as_f64().map(Val::Num),
        Value::Bool(b) => Some(Val::Bool(*b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct M(Value);
    impl MessageView for M {
        fn system(&self, p: SystemProp) -> Option<&str> {
            match p {
                SystemProp::ContentType => Some("application/json"),
                SystemProp::ConnectionDeviceId => Some("cow-1"),
                _ => None,
            }
        }
        fn app_prop(&self, name: &str) -> Option<Option<&str>> {
            name.eq_ignore_ascii_case("kind").then_some(Some("collar"))
        }
        fn body(&self, path: &[String]) -> Option<Val<'_>> {
            json_path(&self.0, path)
        }
    }

    #[test]
    fn conditions_combine_system_app_and_body_operands() {
        let m = M(serde_json::json!({"temp_c": 40.5, "gps": {"fix": true}}));
        let t = |s: &str| Condition::parse(s).unwrap().eval(&m);
        assert!(t("$body.temp_c > 39.5"));
        assert!(t("KIND = 'collar' AND $body.gps.fix = true"));
        assert!(!t("$body.temp_c < 39.5 OR kind <> 'collar'"));
        assert!(t("NOT ($connectionDeviceId = 'cow-2')"));
        assert!(t("IS_DEFINED($body.gps.fix) and not is_defined(missing)"));
        assert!(!t("$body.nothing = 1"));
        assert!(!t("$body.temp_c = 'hot'"));
        assert!(t("true"));
    }

    #[test]
    fn bad_conditions_name_the_position() {
        let e = Condition::parse("$body.temp_c >").unwrap_err();
        assert_eq!(e.at, 14);
        assert!(Condition::parse("$twin.tags.x = 1").is_err());
        assert!(Condition::parse("(a = 1").is_err());
        assert!(Condition::parse("a = 1 b").is_err());
    }
}
