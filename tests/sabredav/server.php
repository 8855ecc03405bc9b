<?php
// A SabreDAV groupware server for the tests: CalDAV and CardDAV on the PDO backends over one SQLite file,
// Digest authentication only (realm "SabreDAV"), no sync-collection (SabreDAV 1.8 has none).
// Served by PHP's own web server: SYNCD_SABRE_DB=/path/db.sqlite php -S 127.0.0.1:PORT server.php
// The database is made by the test fixture (tests/servers.py) from schema.sql next to this file.

error_reporting(E_ALL & ~E_DEPRECATED & ~E_USER_DEPRECATED);
ini_set('display_errors', '0');
ini_set('log_errors', '1');

require_once 'Sabre/autoload.php';

$pdo = new PDO('sqlite:' . getenv('SYNCD_SABRE_DB'));
$pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);

$principals = new \Sabre\DAVACL\PrincipalBackend\PDO($pdo);
$tree = array(
    new \Sabre\CalDAV\Principal\Collection($principals),
    new \Sabre\CalDAV\CalendarRootNode($principals, new \Sabre\CalDAV\Backend\PDO($pdo)),
    new \Sabre\CardDAV\AddressBookRoot($principals, new \Sabre\CardDAV\Backend\PDO($pdo)),
);

$server = new \Sabre\DAV\Server($tree);
$server->setBaseUri('/');
$server->addPlugin(new \Sabre\DAV\Auth\Plugin(new \Sabre\DAV\Auth\Backend\PDO($pdo), 'SabreDAV'));
$server->addPlugin(new \Sabre\DAVACL\Plugin());
$server->addPlugin(new \Sabre\CalDAV\Plugin());
$server->addPlugin(new \Sabre\CardDAV\Plugin());
$server->exec();
