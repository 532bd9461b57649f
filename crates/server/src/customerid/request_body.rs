//! Request bodies of writes, as an alternative to query or form parameters: the entity
//! document the API answers with, in XML or JSON.
//!
//! ```xml
//! <User xmlns="http://schema.ubisecure.com/customerid/api">
//!   <Attribute name="firstname"><Value>Maija</Value></Attribute>
//!   <Attribute name="mobile"/>               <!-- no value: remove (PUT) -->
//! </User>
//! ```
//! `{"Attribute":[{"name":"firstname","Value":["Maija"]},{"name":"mobile","Value":[]}]}`
//!
//! XML is read with quick-xml and refused outright if it has a DOCTYPE: no external
//! entities (XXE), no entity expansion (billion laughs); only the five predefined entities
//! and character references are understood. The body's size is capped before parsing.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Deserialize;

/// Parameters from an XML entity document: one `(name, value)` per `<Value>`, and
/// `(name, "")` for an attribute without values.
pub fn from_xml(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    // Not trimmed: a value's spaces around a reference (`a &amp; b`) are its own.
    let mut reader = Reader::from_reader(body);
    let mut params = vec![];
    // Where we are: 0 outside the root, 1 in the root, 2 in an Attribute, 3 in a Value.
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut attribute: Option<(String, usize)> = None; // name, values so far
    let mut value = String::new();
    let mut buf = vec![];
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::DocType(_) => return Err("a DOCTYPE is not allowed".into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(e) => {
                match depth {
                    0 if seen_root => return Err("more than one root element".into()),
                    0 => seen_root = root(&e)?,
                    1 => attribute = Some((attribute_name(&e)?, 0)),
                    2 => {
                        expect(&e, "Value")?;
                        value.clear();
                    }
                    _ => return Err("a <Value> holds text only".into()),
                }
                depth += 1;
            }
            Event::Empty(e) => match depth {
                0 if seen_root => return Err("more than one root element".into()),
                0 => seen_root = root(&e)?,
                1 => params.push((attribute_name(&e)?, String::new())),
                2 => {
                    expect(&e, "Value")?;
                    let (name, count) = attribute
                        .as_mut()
                        .ok_or("a <Value> outside an <Attribute>")?;
                    params.push((name.clone(), String::new()));
                    *count += 1;
                }
                _ => return Err("a <Value> holds text only".into()),
            },
            Event::End(_) => {
                match depth {
                    3 => {
                        let (name, count) = attribute
                            .as_mut()
                            .ok_or("a <Value> outside an <Attribute>")?;
                        params.push((name.clone(), std::mem::take(&mut value)));
                        *count += 1;
                    }
                    2 => {
                        if let Some((name, 0)) = attribute.take() {
                            params.push((name, String::new()));
                        }
                    }
                    _ => {}
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if depth == 3 => {
                value.push_str(&t.decode().map_err(|e| format!("text is not UTF-8: {e}"))?)
            }
            Event::CData(t) if depth == 3 => value
                .push_str(std::str::from_utf8(&t).map_err(|_| "CDATA is not UTF-8".to_owned())?),
            Event::GeneralRef(r) if depth == 3 => {
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| format!("bad character reference: {e}"))?
                {
                    value.push(c);
                } else {
                    let name = r.decode().map_err(|e| format!("bad reference: {e}"))?;
                    let resolved = resolve_predefined_entity(&name)
                        .ok_or_else(|| format!("unknown entity &{name};"))?;
                    value.push_str(resolved);
                }
            }
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                return Err("text is allowed inside <Value> only".into())
            }
            Event::Eof => break,
        }
        buf.clear();
    }
    if !seen_root || depth != 0 {
        return Err("the document is incomplete".into());
    }
    Ok(params)
}

/// The root element, whatever its name, if the name is an XML name: quick-xml reads any
/// bytes up to `>` as a tag, so `<"<!DOCTYPE …>"/>` would otherwise pass as an element.
fn root(e: &BytesStart<'_>) -> Result<bool, String> {
    let name = e.name();
    let name = name.as_ref();
    let start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80;
    let rest = |c: &u8| start(*c) || c.is_ascii_digit() || *c == b'-' || *c == b'.';
    match name.split_first() {
        Some((first, tail)) if start(*first) && tail.iter().all(rest) => Ok(true),
        _ => Err(format!(
            "<{}> is not an element name",
            String::from_utf8_lossy(name)
        )),
    }
}

fn expect(e: &BytesStart<'_>, name: &str) -> Result<(), String> {
    if e.local_name().as_ref() == name.as_bytes() {
        Ok(())
    } else {
        Err(format!(
            "expected <{name}>, found <{}>",
            String::from_utf8_lossy(e.local_name().as_ref())
        ))
    }
}

fn attribute_name(e: &BytesStart<'_>) -> Result<String, String> {
    expect(e, "Attribute")?;
    let name = e
        .try_get_attribute("name")
        .map_err(|e| format!("malformed attribute: {e}"))?
        .ok_or("an <Attribute> needs a name")?;
    let name = name
        .unescape_value()
        .map_err(|e| format!("malformed attribute name: {e}"))?;
    if name.is_empty() {
        return Err("an <Attribute> needs a name".into());
    }
    Ok(name.into_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntity {
    #[serde(rename = "Attribute")]
    attribute: Vec<JsonAttribute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAttribute {
    name: String,
    #[serde(rename = "Value", default)]
    value: Vec<String>,
}

/// Parameters from a JSON entity document, the same way as [`from_xml`].
pub fn from_json(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let entity: JsonEntity =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    let mut params = vec![];
    for a in entity.attribute {
        if a.name.is_empty() {
            return Err("an attribute needs a name".into());
        }
        if a.value.is_empty() {
            params.push((a.name, String::new()));
        } else {
            params.extend(a.value.into_iter().map(|v| (a.name.clone(), v)));
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn entity_documents_become_parameters() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
            <User xmlns="http://schema.ubisecure.com/customerid/api">
              <!-- a comment -->
              <Attribute name="firstname"><Value>Ma&amp;ija &#228;</Value></Attribute>
              <Attribute name="mail"><Value>a</Value><Value><![CDATA[<b>]]></Value></Attribute>
              <Attribute name="mobile"/>
              <Attribute name="x"></Attribute>
              <Attribute name="y"><Value/></Attribute>
            </User>"#;
        assert_eq!(
            from_xml(xml).unwrap(),
            p(&[
                ("firstname", "Ma&ija ä"),
                ("mail", "a"),
                ("mail", "<b>"),
                ("mobile", ""),
                ("x", ""),
                ("y", "")
            ])
        );
        let json = br#"{"Attribute":[{"name":"firstname","Value":["Maija"]},{"name":"mobile","Value":[]}]}"#;
        assert_eq!(
            from_json(json).unwrap(),
            p(&[("firstname", "Maija"), ("mobile", "")])
        );
    }

    #[test]
    fn hostile_and_malformed_documents_are_refused() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]><User><Attribute name="a"><Value>&x;</Value></Attribute></User>"#;
        assert!(from_xml(xxe).unwrap_err().contains("DOCTYPE"));
        // Found by the fuzz suite: a "tag" quick-xml reads up to `>` is no element.
        let disguised = br#"<"<!DOCTYPE x [<!ENTITY e "e">]>"<Value/>"#;
        assert!(from_xml(disguised)
            .unwrap_err()
            .contains("not an element name"));
        let laughs = br#"<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><User/>"#;
        assert!(from_xml(laughs).is_err());
        for bad in [
            &b"<User><Attribute name=\"a\"><Value>&x;</Value></Attribute></User>"[..],
            b"<User><Attribute name=\"a\"><Value>x</Attribute></User>",
            b"<User><Attribute><Value>x</Value></Attribute></User>",
            b"<User><Other name=\"a\"/></User>",
            b"<User><Attribute name=\"a\"><Value><b/></Value></Attribute></User>",
            b"<User>text</User>",
            b"<User/><User/>",
            b"<User>",
            b"",
            b"\xff\xfe<User/>",
            b"<User><Attribute name=\"a\"><Value>\xff</Value></Attribute></User>",
        ] {
            assert!(from_xml(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"Attribute":[{"name":""}]}"#,
            br#"{"Attribute":[{"name":"a","Value":[1]}]}"#,
            br#"{"Attribute":[],"x":1}"#,
        ] {
            assert!(
                from_json(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
