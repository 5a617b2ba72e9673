#!/usr/bin/perl
# ui-driver.pl - a minimal W3C WebDriver client for t/t8301-ui.sh:
# talks HTTP/JSON to a chromedriver on 127.0.0.1 (core Perl: HTTP::Tiny,
# JSON::PP, MIME::Base64), one command per run, so the shell test drives
# the browser step by step.
#
# Usage: ui-driver.pl URL SESSIONFILE COMMAND [ARGS...]
#   URL          chromedriver, http://127.0.0.1:PORT
#   SESSIONFILE  holds the session id between runs
# Commands (waits poll every 200 ms up to SECONDS, then fail with what
# the page showed):
#   new                      start headless Chromium (/usr/bin/chromium)
#   go PAGEURL               navigate (reload if already there)
#   wait-text CSS TEXT SECS  an element matching CSS contains TEXT
#   wait-count CSS N SECS    exactly N elements match CSS
#   wait-gone CSS SECS       no element matches CSS
#   text CSS                 print the text of the first match
#   type CSS TEXT            clear the field, then type TEXT
#   click CSS                click the first match
#   js SCRIPT                run SCRIPT (a function body), print its
#                            return value as JSON
#   shot FILE                save a PNG screenshot
#   quit                     end the session (closes the browser)
# Exit: 0 ok, 1 failed (message on stderr), 2 usage.
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(sleep time);

my ($url, $sfile, $cmd, @args) = @ARGV;
die "usage: ui-driver.pl URL SESSIONFILE COMMAND [ARGS...]\n"
    unless defined $cmd;
my $http = HTTP::Tiny->new(timeout => 60, proxy => undef, http_proxy => undef);
my $json = JSON::PP->new->canonical->allow_nonref;
my $ELEM = 'element-6066-11e4-a52e-4f735466cecf';

sub wd {
    my ($method, $path, $body) = @_;
    my $r = $http->request($method, "$url$path", {
        headers => {'Content-Type' => 'application/json'},
        defined $body ? (content => $json->encode($body)) : (),
    });
    my $v = eval { $json->decode($r->{content}) };
    die "webdriver $method $path: $r->{status} $r->{content}\n"
        unless $v && ref $v eq 'HASH';
    if (!$r->{success}) {
        my $e = $v->{value} || {};
        die "webdriver $method $path: "
            . ($e->{error} // $r->{status}) . ': '
            . substr($e->{message} // '', 0, 300) . "\n";
    }
    return $v->{value};
}

sub sid {
    open(my $fh, '<', $sfile) or die "no session ($sfile): run 'new'\n";
    chomp(my $s = <$fh>);
    return "/session/$s";
}

sub find_all {
    my ($css) = @_;
    my $v = wd('POST', sid() . '/elements', {using => 'css selector', value => $css});
    return map { $_->{$ELEM} } @$v;
}

sub text_of {
    my ($id) = @_;
    return wd('GET', sid() . "/element/$id/text");
}

# poll(SECS, WHAT, SUB): SUB returns true when done; else die with WHAT
# and what the page's main area shows.
sub poll {
    my ($secs, $what, $sub) = @_;
    my $end = time + $secs;
    while (1) {
        my $ok = eval { $sub->() };
        return 1 if $ok;
        last if time > $end;
        sleep 0.2;
    }
    my $page = eval { script('var m = document.body; return m ? m.innerText : ""') } // '?';
    $page =~ s/\n+/ | /g;
    die "timed out after ${secs}s waiting for $what; page: " . substr($page, 0, 600) . "\n";
}

sub script {
    my ($src) = @_;
    return wd('POST', sid() . '/execute/sync', {script => $src, args => []});
}

if ($cmd eq 'new') {
    my $v = wd('POST', '/session', {capabilities => {alwaysMatch => {
        browserName => 'chrome',
        'goog:chromeOptions' => {
            binary => '/usr/bin/chromium',
            args => ['--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--window-size=1280,900',
                     '--no-first-run', '--no-proxy-server',
                     '--disable-extensions', '--disable-background-networking',
                     '--disable-component-update', '--disable-sync',
                     '--disable-default-apps', '--no-default-browser-check',
                     '--disable-crash-reporter', '--disable-breakpad'],
        },
        timeouts => {pageLoad => 60000, script => 30000},
    }}});
    open(my $fh, '>', $sfile) or die "$sfile: $!\n";
    print $fh "$v->{sessionId}\n";
    close($fh);
} elsif ($cmd eq 'go') {
    # the same URL again (a hash route) would not reload: refresh
    if (wd('GET', sid() . '/url') eq $args[0]) {
        wd('POST', sid() . '/refresh', {});
    } else {
        wd('POST', sid() . '/url', {url => $args[0]});
    }
} elsif ($cmd eq 'wait-text') {
    my ($css, $want, $secs) = @args;
    poll($secs // 20, "'$want' in $css", sub {
        for my $id (find_all($css)) {
            return 1 if index(text_of($id), $want) >= 0;
        }
        return 0;
    });
} elsif ($cmd eq 'wait-count') {
    my ($css, $n, $secs) = @args;
    my $got = '?';
    poll($secs // 20, "$n x $css (last seen $got)",
         sub { $got = () = find_all($css); return $got == $n });
} elsif ($cmd eq 'wait-gone') {
    my ($css, $secs) = @args;
    poll($secs // 20, "no $css", sub { return !find_all($css) });
} elsif ($cmd eq 'text') {
    my ($id) = find_all($args[0]);
    die "no element matches '$args[0]'\n" unless defined $id;
    print text_of($id), "\n";
} elsif ($cmd eq 'type') {
    my ($css, $text) = @args;
    my ($id) = find_all($css);
    die "no element matches '$css'\n" unless defined $id;
    wd('POST', sid() . "/element/$id/clear", {});
    wd('POST', sid() . "/element/$id/value", {text => $text});
} elsif ($cmd eq 'click') {
    my ($id) = find_all($args[0]);
    die "no element matches '$args[0]'\n" unless defined $id;
    wd('POST', sid() . "/element/$id/click", {});
} elsif ($cmd eq 'js') {
    print $json->encode(script($args[0])), "\n";
} elsif ($cmd eq 'shot') {
    my $png = decode_base64(wd('GET', sid() . '/screenshot'));
    open(my $fh, '>:raw', $args[0]) or die "$args[0]: $!\n";
    print $fh $png;
    close($fh);
} elsif ($cmd eq 'quit') {
    wd('DELETE', sid());
    unlink $sfile;
} else {
    print STDERR "ui-driver: unknown command '$cmd'\n";
    exit 2;
}
exit 0;
