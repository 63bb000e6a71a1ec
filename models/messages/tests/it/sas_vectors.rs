//! SAS tokens against an independent computation (acceptance 1).
//!
//! The expected tokens were computed with Python's standard library, independently of this
//! crate's Rust code:
//! ```text
//! key = base64.b64decode(derived_key)
//! sr  = urllib.parse.quote(uri.lower(), safe='')
//! sig = base64.b64encode(hmac.new(key, (sr + '\n' + str(se)).encode(), hashlib.sha256).digest())
//! token = 'SharedAccessSignature sr=%s&sig=%s&se=%d' % (sr, urllib.parse.quote(sig, safe=''), se)
//! ```

use iot_messages::sas::{self, SasRefusal, SasToken};

const GROUP_KEY: &str =
    "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==";
const REG_ID: &str = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6";
const EXPIRY: u64 = 1_767_225_600 + 3_600;

fn device_key() -> Vec<u8> {
    let k = sas::derive_device_key(GROUP_KEY, REG_ID).unwrap();
    assert_eq!(k, "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=");
    sas::decode_key(&k).unwrap()
}

#[test]
fn a_hub_device_token_matches_an_independent_python_computation() {
    let uri = sas::device_resource_uri("myhub.azure-devices.net", REG_ID);
    let token = SasToken::sign(&uri, &device_key(), EXPIRY, None);
    assert_eq!(
        token,
        "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fsn-007-888-abc-mac-a1-b2-c3-d4-e5-f6&sig=4HmOE0kNLfBnUW9M41HvDXrhJ81HELrriABwN84lyIY%3D&se=1767229200"
    );
}

#[test]
fn a_dps_registration_token_matches_an_independent_python_computation() {
    let uri = sas::dps_resource_uri("0ne00000001", REG_ID);
    let token = SasToken::sign(&uri, &device_key(), EXPIRY, Some("registration"));
    assert_eq!(
        token,
        "SharedAccessSignature sr=0ne00000001%2Fregistrations%2Fsn-007-888-abc-mac-a1-b2-c3-d4-e5-f6&sig=vpr27TMCKSV1p5dKpkMGm6ndTnTIfl0kj6hy6ibdF%2Fc%3D&se=1767229200&skn=registration"
    );
}

#[test]
fn verification_refuses_each_kind_of_bad_token() {
    let key = device_key();
    let uri = sas::device_resource_uri("h.azure-devices.net", "cow-1");
    let token = SasToken::sign(&uri, &key, EXPIRY, None);
    assert!(SasToken::verify(&token, &uri, &key, EXPIRY - 1).is_ok());
    assert_eq!(
        SasToken::verify(&token, &uri, &key, EXPIRY),
        Err(SasRefusal::Expired)
    );
    let other = sas::device_resource_uri("h.azure-devices.net", "cow-2");
    assert_eq!(
        SasToken::verify(&token, &other, &key, 0),
        Err(SasRefusal::WrongResource)
    );
    let mut wrong_key = key.clone();
    wrong_key[0] ^= 1;
    assert_eq!(
        SasToken::verify(&token, &uri, &wrong_key, 0),
        Err(SasRefusal::BadSignature)
    );
    assert_eq!(
        SasToken::verify("Bearer x", &uri, &key, 0),
        Err(SasRefusal::Malformed)
    );
    // Field order is not significant (reference §1.5).
    let t = SasToken::parse(&token).unwrap();
    let reordered = format!(
        "SharedAccessSignature se={}&sr={}&sig={}",
        t.expiry_unix_s,
        iot_messages::props::url_encode(&t.resource_uri),
        iot_messages::props::url_encode(&t.signature_b64)
    );
    assert!(SasToken::verify(&reordered, &uri, &key, 0).is_ok());
}
