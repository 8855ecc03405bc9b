"""The IMAP adapter (`[mail]`): reads the header fields of the messages in the configured folders, never a body,
never a flag (`syncd.imap.mailbox`)."""
