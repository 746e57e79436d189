//! Enhanced authentication data for the next CONNECT.

use bytes::Bytes;
use bytestring::ByteString;

use super::Session;
use crate::Secret;

impl Session {
    /// Sets the 5.0 Authentication Method and Data the next CONNECT
    /// carries: an authenticator starts a fresh exchange for every
    /// connection.
    pub fn set_authentication(&mut self, method: ByteString, data: Option<Bytes>) {
        self.config.properties.authentication_method = Some(method);
        self.config.properties.authentication_data = data.map(Secret::new);
    }
}
