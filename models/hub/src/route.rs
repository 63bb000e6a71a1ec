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
                cmp_holds(ord, *op)
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

/// A condition partially evaluated for one telemetry schema: application properties, content
/// type and encoding are constant per schema and fold away; body fields become indices into
/// the compact values. Only the numbers and the device id are left to look at per message.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaCondition {
    Const(bool),
    Not(Box<SchemaCondition>),
    And(Box<SchemaCondition>, Box<SchemaCondition>),
    Or(Box<SchemaCondition>, Box<SchemaCondition>),
    /// Field `index` (`None`: `seq`) compared with a number.
    Field(Option<u8>, CmpOp, f64),
    FieldDefined(u8),
    DeviceId(CmpOp, String),
}

fn cmp_holds(ord: Option<Ordering>, op: CmpOp) -> bool {
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

impl SchemaCondition {
    /// Evaluates on a compact message of the schema this was specialised for.
    #[inline]
    pub fn eval(&self, device: &str, values: &iot_messages::Values) -> bool {
        match self {
            SchemaCondition::Const(b) => *b,
            SchemaCondition::Not(c) => !c.eval(device, values),
            SchemaCondition::And(a, b) => a.eval(device, values) && b.eval(device, values),
            SchemaCondition::Or(a, b) => a.eval(device, values) || b.eval(device, values),
            SchemaCondition::Field(i, op, lit) => {
                let v = match i {
                    None => f64::from(values.seq),
                    Some(i) => match values.as_slice().get(*i as usize) {
                        Some(v) if v.is_finite() => *v,
                        _ => return false,
                    },
                };
                cmp_holds(v.partial_cmp(lit), *op)
            }
            SchemaCondition::FieldDefined(i) => values
                .as_slice()
                .get(*i as usize)
                .is_some_and(|v| v.is_finite()),
            SchemaCondition::DeviceId(op, lit) => cmp_holds(Some(device.cmp(lit.as_str())), *op),
        }
    }
}

/// The view of a compact message with only schema-level facts (no values, no device).
struct SchemaFacts<'a>(&'a iot_messages::TelemetrySchema);

impl MessageView for SchemaFacts<'_> {
    fn system(&self, p: SystemProp) -> Option<&str> {
        match p {
            SystemProp::ContentType => Some("application/json"),
            SystemProp::ContentEncoding => Some("utf-8"),
            SystemProp::ConnectionDeviceId | SystemProp::ConnectionModuleId => None,
        }
    }
    fn app_prop(&self, name: &str) -> Option<Option<&str>> {
        self.0.app_prop(name)
    }
    fn body(&self, _path: &[String]) -> Option<Val<'_>> {
        None
    }
}

impl Condition {
    /// Partially evaluates the condition for compact messages of `schema`.
    pub fn specialize(&self, schema: &iot_messages::TelemetrySchema) -> SchemaCondition {
        use SchemaCondition as S;
        let field = |path: &[String]| -> Result<Option<u8>, ()> {
            match path {
                [name] if name == "seq" => Ok(None),
                [name] => schema
                    .fields
                    .iter()
                    .position(|f| f == name)
                    .map(|i| Some(i as u8))
                    .ok_or(()),
                _ => Err(()),
            }
        };
        match self {
            Condition::Const(b) => S::Const(*b),
            Condition::Not(c) => match c.specialize(schema) {
                S::Const(b) => S::Const(!b),
                c => S::Not(Box::new(c)),
            },
            Condition::And(a, b) => match (a.specialize(schema), b.specialize(schema)) {
                (S::Const(false), _) | (_, S::Const(false)) => S::Const(false),
                (S::Const(true), x) | (x, S::Const(true)) => x,
                (x, y) => S::And(Box::new(x), Box::new(y)),
            },
            Condition::Or(a, b) => match (a.specialize(schema), b.specialize(schema)) {
                (S::Const(true), _) | (_, S::Const(true)) => S::Const(true),
                (S::Const(false), x) | (x, S::Const(false)) => x,
                (x, y) => S::Or(Box::new(x), Box::new(y)),
            },
            Condition::IsDefined(Operand::Body(path)) => match field(path) {
                Ok(None) => S::Const(true),
                Ok(Some(i)) => S::FieldDefined(i),
                Err(()) => S::Const(false),
            },
            Condition::IsDefined(Operand::System(SystemProp::ConnectionDeviceId)) => S::Const(true),
            Condition::Cmp(Operand::Body(path), op, Literal::Num(n)) => match field(path) {
                Ok(i) => S::Field(i, *op, *n),
                Err(()) => S::Const(false),
            },
            Condition::Cmp(Operand::Body(_), _, _) => S::Const(false),
            Condition::Cmp(Operand::System(SystemProp::ConnectionDeviceId), op, lit) => match lit {
                Literal::Str(s) => S::DeviceId(*op, s.clone()),
                _ => S::Const(false),
            },
            other => S::Const(other.eval(&SchemaFacts(schema))),
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

    /// A compact view of one schema's message, for the oracle test below.
    struct Compact<'a>(
        &'a iot_messages::TelemetrySchema,
        &'a iot_messages::Values,
        &'a str,
    );
    impl MessageView for Compact<'_> {
        fn system(&self, p: SystemProp) -> Option<&str> {
            match p {
                SystemProp::ConnectionDeviceId => Some(self.2),
                SystemProp::ContentType => Some("application/json"),
                SystemProp::ContentEncoding => Some("utf-8"),
                SystemProp::ConnectionModuleId => None,
            }
        }
        fn app_prop(&self, name: &str) -> Option<Option<&str>> {
            self.0.app_prop(name)
        }
        fn body(&self, path: &[String]) -> Option<Val<'_>> {
            match path {
                [name] => self.0.field(self.1, name).map(Val::Num),
                _ => None,
            }
        }
    }

    #[test]
    fn a_specialised_condition_agrees_with_the_general_evaluator() {
        let schema = iot_messages::TelemetrySchema::new(
            "collar",
            &["lat", "temp_c"],
            &[("kind", Some("collar")), ("flag", None)],
        )
        .unwrap();
        let conditions = [
            "$body.temp_c > 39.5",
            "kind = 'collar' AND $body.temp_c <= 39.5",
            "NOT (KIND = 'cow') OR $body.lat < 0",
            "IS_DEFINED(flag) AND NOT IS_DEFINED(missing)",
            "IS_DEFINED($body.temp_c) AND $body.seq >= 3",
            "$connectionDeviceId = 'cow-2' OR $body.nothing = 1",
            "$contentType = 'application/json' AND $contentEncoding = 'utf-8'",
            "$body.temp_c = 'hot' OR $body.lat != 47",
            "flag = 'x'",
        ];
        for text in conditions {
            let c = Condition::parse(text).unwrap();
            let s = c.specialize(&schema);
            for (seq, temp, dev) in [
                (1, 38.0, "cow-1"),
                (5, 40.0, "cow-2"),
                (3, f64::NAN, "cow-3"),
            ] {
                let v = iot_messages::Values::new(seq, &[47.0, temp]);
                assert_eq!(
                    s.eval(dev, &v),
                    c.eval(&Compact(&schema, &v, dev)),
                    "`{text}` on seq={seq} temp={temp} dev={dev}"
                );
            }
        }
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
