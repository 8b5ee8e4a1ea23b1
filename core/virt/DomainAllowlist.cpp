// SPDX-License-Identifier: Apache-2.0
#include "DomainAllowlist.h"

#include <QDir>
#include <QFileInfo>
#include <QHash>
#include <QHostAddress>
#include <QSet>

namespace fluid::virt {
namespace {

const QLatin1String kAgentChannel("org.qemu.guest_agent.0");

// Where distributions install firmware. A loader or NVRAM template anywhere else is a host file the
// source chose; Fluid does not load it into a sandbox.
const QStringList kFirmwareDirs = {
    QStringLiteral("/usr/share/OVMF/"),     QStringLiteral("/usr/share/ovmf/"),
    QStringLiteral("/usr/share/edk2/"),     QStringLiteral("/usr/share/edk2-ovmf/"),
    QStringLiteral("/usr/share/AAVMF/"),    QStringLiteral("/usr/share/qemu-efi-aarch64/"),
    QStringLiteral("/usr/share/seabios/"),  QStringLiteral("/usr/share/qemu/"),
    QStringLiteral("/usr/share/qemu-efi/"), QStringLiteral("/usr/lib/ipxe/"),
};
// libvirt keeps each domain's NVRAM here; Fluid reads the source's to copy it for the sandbox.
const QString kNvramDir = QStringLiteral("/var/lib/libvirt/qemu/nvram/");

QList<QDomElement> childElements(const QDomElement& parent)
{
    QList<QDomElement> list;
    for (QDomElement e = parent.firstChildElement(); !e.isNull(); e = e.nextSiblingElement())
        list.append(e);
    return list;
}

QString qualifiedName(const QDomElement& e)
{
    return e.prefix().isEmpty() ? e.localName() : e.prefix() + QLatin1Char(':') + e.localName();
}

// "<channel type='tcp'>": how a person finds the element in `virsh edit`.
QString describe(const QDomElement& e)
{
    QString s = QLatin1Char('<') + qualifiedName(e);
    for (const char* attr : {"type", "model", "mode"}) {
        if (e.hasAttribute(QLatin1String(attr))) {
            s += QStringLiteral(" %1='%2'").arg(QLatin1String(attr), e.attribute(QLatin1String(attr)));
            break;
        }
    }
    return s + QLatin1Char('>');
}

// A clean absolute path below one of `dirs`: no "..", no "//" tricks.
bool isUnder(const QString& path, const QStringList& dirs)
{
    if (!path.startsWith(QLatin1Char('/')) || QFileInfo(path).isRelative() || QDir::cleanPath(path) != path)
        return false;
    for (const QString& dir : dirs) {
        if (path.startsWith(dir))
            return true;
    }
    return false;
}

bool isLocalAddress(const QString& address)
{
    if (address.isEmpty() || address == QLatin1String("localhost"))
        return true;
    const QHostAddress a(address);
    return !a.isNull() && a.isLoopback();
}

class Allowlist {
public:
    explicit Allowlist(QDomDocument& doc)
        : m_root(doc.documentElement())
    {
        m_name = m_root.firstChildElement(QStringLiteral("name")).text();
    }

    Result<QStringList> run()
    {
        collectImageDirs();
        if (auto ok = checkEverywhere(m_root); !ok)
            return ok.error();
        for (QDomElement e : childElements(m_root)) {
            if (auto ok = topLevel(e); !ok)
                return ok.error();
        }
        return m_notes;
    }

private:
    Result<void> refuse(const QDomElement& e, const QString& why) const { return refuse(describe(e), why); }
    Result<void> refuse(const QString& what, const QString& why) const
    {
        return makeError(ErrorCode::Refused,
                         QStringLiteral("%1 cannot be a sandbox source: %2 %3. Remove it from the source VM.")
                             .arg(m_name, what, why));
    }
    void drop(QDomElement e, const QString& why)
    {
        m_notes << QStringLiteral("%1 removed: %2").arg(describe(e), why);
        e.parentNode().removeChild(e);
    }

    // The folders of the images Fluid overlays: a direct-boot kernel next to its disk image is the
    // golden's own file (scripts/golden-image.sh builds them so).
    void collectImageDirs()
    {
        const QDomElement devices = m_root.firstChildElement(QStringLiteral("devices"));
        for (QDomElement d = devices.firstChildElement(QStringLiteral("disk")); !d.isNull();
             d = d.nextSiblingElement(QStringLiteral("disk"))) {
            const QString file =
                d.firstChildElement(QStringLiteral("source")).attribute(QStringLiteral("file"));
            if (!file.isEmpty() && !isReadOnly(d) && QDir::isAbsolutePath(file))
                m_imageDirs << QFileInfo(QDir::cleanPath(file)).path() + QLatin1Char('/');
        }
    }

    static bool isReadOnly(const QDomElement& disk)
    {
        const QString device = disk.attribute(QStringLiteral("device"), QStringLiteral("disk"));
        return !disk.firstChildElement(QStringLiteral("readonly")).isNull() ||
               device == QLatin1String("cdrom") || device == QLatin1String("floppy");
    }

    // Namespaced extensions (<qemu:commandline>, <qemu:capabilities>, ...) hand qemu arguments libvirt
    // does not check; a security label turned off lets qemu open host files as itself.
    Result<void> checkEverywhere(const QDomElement& parent)
    {
        for (const QDomElement& e : childElements(parent)) {
            if (e.parentNode() == m_root && e.localName() == QLatin1String("metadata") &&
                e.namespaceURI().isEmpty())
                continue;
            if (!e.namespaceURI().isEmpty()) {
                return refuse(describe(e),
                              QStringLiteral("passes settings to the hypervisor that libvirt does "
                                             "not check (%1)")
                                  .arg(e.namespaceURI()));
            }
            if (e.localName() == QLatin1String("seclabel")) {
                const QString type = e.attribute(QStringLiteral("type"), QStringLiteral("dynamic"));
                if (type == QLatin1String("none"))
                    return refuse(e, QStringLiteral("turns off the security label that confines qemu"));
                if (e.attribute(QStringLiteral("relabel")) == QLatin1String("no"))
                    return refuse(QStringLiteral("<seclabel relabel='no'>"),
                                  QStringLiteral("turns off the security label that confines qemu"));
                if (type == QLatin1String("static"))
                    return refuse(e, QStringLiteral("gives every clone the same fixed security label, so "
                                                    "sandboxes are not kept apart from each other"));
            }
            if (e.localName() == QLatin1String("log") && e.hasAttribute(QStringLiteral("file"))) {
                return refuse(describe(parent) +
                                  QStringLiteral("<log file='%1'>").arg(e.attribute(QStringLiteral("file"))),
                              QStringLiteral("writes guest output to a file on the host"));
            }
            if (auto ok = checkEverywhere(e); !ok)
                return ok;
        }
        return {};
    }

    Result<void> topLevel(QDomElement e)
    {
        static const QSet<QString> plain = {
            QStringLiteral("name"),        QStringLiteral("uuid"),
            QStringLiteral("genid"),       QStringLiteral("title"),
            QStringLiteral("description"), QStringLiteral("metadata"),
            QStringLiteral("memory"),      QStringLiteral("currentMemory"),
            QStringLiteral("maxMemory"),   QStringLiteral("memoryBacking"),
            QStringLiteral("vcpu"),        QStringLiteral("vcpus"),
            QStringLiteral("iothreads"),   QStringLiteral("iothreadids"),
            QStringLiteral("cputune"),     QStringLiteral("numatune"),
            QStringLiteral("resource"),    QStringLiteral("features"),
            QStringLiteral("cpu"),         QStringLiteral("clock"),
            QStringLiteral("on_poweroff"), QStringLiteral("on_reboot"),
            QStringLiteral("on_crash"),    QStringLiteral("on_lockfailure"),
            QStringLiteral("pm"),          QStringLiteral("blkiotune"),
            QStringLiteral("memtune"),     QStringLiteral("perf"),
            QStringLiteral("seclabel"),
        };
        const QString tag = e.localName();
        if (plain.contains(tag))
            return {};
        if (tag == QLatin1String("os"))
            return os(e);
        if (tag == QLatin1String("sysinfo"))
            return sysinfo(e);
        if (tag == QLatin1String("devices")) {
            for (QDomElement d : childElements(e)) {
                if (auto ok = device(d); !ok)
                    return ok;
            }
            return {};
        }
        return refuse(e, QStringLiteral("is not an element Fluid knows to be safe in a sandbox"));
    }

    Result<void> os(const QDomElement& os)
    {
        static const QSet<QString> plain = {QStringLiteral("type"),     QStringLiteral("boot"),
                                            QStringLiteral("bootmenu"), QStringLiteral("bios"),
                                            QStringLiteral("cmdline"),  QStringLiteral("firmware")};
        for (const QDomElement& e : childElements(os)) {
            const QString tag = e.localName();
            const QString path = e.text().trimmed();
            if (plain.contains(tag))
                continue;
            if (tag == QLatin1String("loader")) {
                if (!path.isEmpty() && !isUnder(path, kFirmwareDirs))
                    return refuse(
                        QStringLiteral("<loader>%1</loader>").arg(path),
                        QStringLiteral("loads firmware from outside the standard firmware folders"));
            } else if (tag == QLatin1String("nvram")) {
                const QString templ = e.attribute(QStringLiteral("template"));
                if (!templ.isEmpty() && !isUnder(templ, kFirmwareDirs))
                    return refuse(
                        QStringLiteral("<nvram template='%1'>").arg(templ),
                        QStringLiteral("starts from a template outside the standard firmware folders"));
                if (!e.firstChildElement().isNull())
                    return refuse(e,
                                  QStringLiteral("is not a plain NVRAM file Fluid can copy for the sandbox"));
                if (!path.isEmpty() && !isUnder(path, QStringList{kNvramDir} + m_imageDirs))
                    return refuse(
                        QStringLiteral("<nvram>%1</nvram>").arg(path),
                        QStringLiteral("is outside libvirt's NVRAM folder (%1); Fluid copies it into "
                                       "the sandbox")
                            .arg(kNvramDir));
            } else if (tag == QLatin1String("kernel") || tag == QLatin1String("initrd") ||
                       tag == QLatin1String("dtb")) {
                if (!isUnder(path, m_imageDirs))
                    return refuse(
                        QStringLiteral("<%1>%2</%1>").arg(tag, path),
                        QStringLiteral("loads a host file that is not beside the source's disk image"));
            } else if (tag == QLatin1String("smbios")) {
                if (e.attribute(QStringLiteral("mode")) == QLatin1String("host"))
                    return refuse(e, QStringLiteral("copies the host's hardware identity into the guest"));
            } else {
                return refuse(e, QStringLiteral("is not a boot setting Fluid knows to be safe"));
            }
        }
        return {};
    }

    // fw_cfg entries are replaced by Fluid's own identity; SMBIOS strings are plain text.
    Result<void> sysinfo(const QDomElement& e)
    {
        const QString type = e.attribute(QStringLiteral("type"));
        if (type == QLatin1String("fwcfg") || type == QLatin1String("smbios"))
            return {};
        return refuse(e, QStringLiteral("is not system information Fluid knows to be safe"));
    }

    Result<void> device(QDomElement e)
    {
        static const QSet<QString> plain = {QStringLiteral("controller"), QStringLiteral("video"),
                                            QStringLiteral("memballoon"), QStringLiteral("hub"),
                                            QStringLiteral("iommu")};
        static const QHash<QString, QString> harmless = {
            {QStringLiteral("sound"), QStringLiteral("a sandbox has no sound")},
            {QStringLiteral("redirdev"), QStringLiteral("a sandbox takes no USB devices from a viewer")},
            {QStringLiteral("redirfilter"), QStringLiteral("a sandbox takes no USB devices from a viewer")},
            {QStringLiteral("watchdog"), QStringLiteral("a sandbox is stopped by Fluid, not by a watchdog")},
            {QStringLiteral("panic"), QStringLiteral("a sandbox does not report panics to the host")},
        };
        static const QHash<QString, QString> refused = {
            {QStringLiteral("hostdev"), QStringLiteral("passes a host device through to the guest")},
            {QStringLiteral("filesystem"), QStringLiteral("shares a host folder with the guest")},
            {QStringLiteral("smartcard"),
             QStringLiteral("gives the guest a smartcard of the host or its viewer")},
            {QStringLiteral("vsock"), QStringLiteral("opens a socket between the guest and the host")},
            {QStringLiteral("shmem"), QStringLiteral("shares memory with processes on the host")},
        };
        const QString tag = e.localName();
        if (plain.contains(tag))
            return {};
        if (harmless.contains(tag)) {
            drop(e, harmless.value(tag));
            return {};
        }
        if (refused.contains(tag))
            return refuse(e, refused.value(tag));
        if (tag == QLatin1String("emulator"))
            return emulator(e);
        if (tag == QLatin1String("disk"))
            return disk(e);
        if (tag == QLatin1String("interface")) {
            // Fluid replaces a network NIC with its own on the sandbox network; any other kind says the
            // source was made to reach something else.
            if (e.attribute(QStringLiteral("type")) != QLatin1String("network"))
                return refuse(e,
                              QStringLiteral("connects the guest to something other than a libvirt network"));
            return {};
        }
        if (tag == QLatin1String("graphics"))
            return graphics(e);
        if (tag == QLatin1String("audio"))
            return audio(e);
        if (tag == QLatin1String("input"))
            return input(e);
        if (tag == QLatin1String("rng"))
            return rng(e);
        if (tag == QLatin1String("tpm"))
            return tpm(e);
        if (tag == QLatin1String("serial") || tag == QLatin1String("console") ||
            tag == QLatin1String("parallel") || tag == QLatin1String("channel"))
            return chardev(e);
        return refuse(e, QStringLiteral("is not a device Fluid knows to be safe in a sandbox"));
    }

    Result<void> emulator(const QDomElement& e)
    {
        const QString path = e.text().trimmed();
        const QString name = QFileInfo(path).fileName();
        const QString dir = QFileInfo(path).path();
        const bool known = (dir == QLatin1String("/usr/bin") || dir == QLatin1String("/usr/libexec")) &&
                           (name.startsWith(QLatin1String("qemu-system-")) ||
                            name == QLatin1String("qemu-kvm") || name == QLatin1String("kvm"));
        if (!known || QDir::cleanPath(path) != path)
            return refuse(QStringLiteral("<emulator>%1</emulator>").arg(path),
                          QStringLiteral("is not qemu from the system's own folders"));
        return {};
    }

    Result<void> disk(const QDomElement& e)
    {
        static const QSet<QString> parts = {
            QStringLiteral("driver"),    QStringLiteral("source"),   QStringLiteral("target"),
            QStringLiteral("address"),   QStringLiteral("boot"),     QStringLiteral("readonly"),
            QStringLiteral("shareable"), QStringLiteral("serial"),   QStringLiteral("backingStore"),
            QStringLiteral("alias"),     QStringLiteral("iotune"),   QStringLiteral("geometry"),
            QStringLiteral("blockio"),   QStringLiteral("wwn"),      QStringLiteral("vendor"),
            QStringLiteral("product"),   QStringLiteral("transient")};
        const QString target = e.firstChildElement(QStringLiteral("target")).attribute(QStringLiteral("dev"));
        const QString type = e.attribute(QStringLiteral("type"), QStringLiteral("file"));
        const QString what = QStringLiteral("<disk type='%1'> %2").arg(type, target);
        if (type == QLatin1String("network"))
            return refuse(what, QStringLiteral("reads a disk over the network"));
        if (e.attribute(QStringLiteral("device")) == QLatin1String("lun"))
            return refuse(what, QStringLiteral("passes a host SCSI device through to the guest"));
        for (const QDomElement& c : childElements(e)) {
            if (!parts.contains(c.localName()))
                return refuse(QStringLiteral("%1 <%2>").arg(what, c.localName()),
                              QStringLiteral("is not a disk setting Fluid knows to be safe"));
        }
        QDomElement source = e.firstChildElement(QStringLiteral("source"));
        if (isReadOnly(e)) {
            // An empty drive is fine; a host file or device attached as is would be read by the guest
            // directly, not through a copy Fluid made.
            if (!source.isNull() && source.attributes().count() > 0)
                return refuse(what, QStringLiteral("attaches a host file or device to the guest as is (%1)")
                                        .arg(source.attributes().item(0).nodeValue()));
            return {};
        }
        if (type != QLatin1String("file"))
            return refuse(what, QStringLiteral("is not a file-backed image Fluid can overlay"));
        // The source is replaced by the sandbox's overlay: nothing describing the old one carries over.
        for (QDomElement c : childElements(source))
            source.removeChild(c);
        return {};
    }

    Result<void> graphics(QDomElement e)
    {
        const QString type = e.attribute(QStringLiteral("type"));
        if (type == QLatin1String("egl-headless"))
            return {};
        if (type != QLatin1String("vnc") && type != QLatin1String("spice"))
            return refuse(e, QStringLiteral("is not VNC or SPICE on the host's loopback"));
        if (!isLocalAddress(e.attribute(QStringLiteral("listen"))))
            return refuse(QStringLiteral("<graphics type='%1' listen='%2'>")
                              .arg(type, e.attribute(QStringLiteral("listen"))),
                          QStringLiteral("listens beyond the host's loopback"));
        for (const QDomElement& l : childElements(e)) {
            if (l.localName() != QLatin1String("listen"))
                continue;
            const QString lt = l.attribute(QStringLiteral("type"));
            if (lt == QLatin1String("socket") || lt == QLatin1String("none"))
                continue;
            if (lt == QLatin1String("address") && isLocalAddress(l.attribute(QStringLiteral("address"))))
                continue;
            const QString where =
                lt == QLatin1String("network")
                    ? QStringLiteral("network='%1'").arg(l.attribute(QStringLiteral("network")))
                    : QStringLiteral("address='%1'").arg(l.attribute(QStringLiteral("address")));
            return refuse(QStringLiteral("<graphics type='%1'><listen type='%2' %3>").arg(type, lt, where),
                          QStringLiteral("listens beyond the host's loopback"));
        }
        return {};
    }

    // libvirt adds <audio type='none'/> itself; a real backend plays to or records from the host.
    Result<void> audio(QDomElement e)
    {
        if (e.attribute(QStringLiteral("type")) == QLatin1String("none"))
            return {};
        const QString id = e.attribute(QStringLiteral("id"));
        drop(e, QStringLiteral("a sandbox has no sound"));
        const QDomElement devices = m_root.firstChildElement(QStringLiteral("devices"));
        for (QDomElement g = devices.firstChildElement(QStringLiteral("graphics")); !g.isNull();
             g = g.nextSiblingElement(QStringLiteral("graphics"))) {
            for (QDomElement a : childElements(g)) {
                if (a.localName() == QLatin1String("audio") && a.attribute(QStringLiteral("id")) == id)
                    g.removeChild(a);
            }
        }
        return {};
    }

    Result<void> input(QDomElement e)
    {
        const QString type = e.attribute(QStringLiteral("type"));
        if (type == QLatin1String("mouse") || type == QLatin1String("keyboard"))
            return {};
        if (type == QLatin1String("tablet")) {
            drop(e, QStringLiteral("a sandbox is driven over SSH, not a pointer"));
            return {};
        }
        return refuse(e, QStringLiteral("passes host input devices to the guest"));
    }

    // /dev/urandom (libvirt's default for an empty backend) and qemu's builtin generator read nothing
    // else from the host; egd reaches a socket.
    Result<void> rng(const QDomElement& e)
    {
        const QDomElement backend = e.firstChildElement(QStringLiteral("backend"));
        const QString model = backend.attribute(QStringLiteral("model"));
        const QString path = backend.text().trimmed();
        if (model == QLatin1String("builtin"))
            return {};
        if (model == QLatin1String("random") && (path.isEmpty() || path == QLatin1String("/dev/urandom")))
            return {};
        const QString what = path.isEmpty()
                                 ? QStringLiteral("<rng><backend model='%1'>").arg(model)
                                 : QStringLiteral("<rng><backend model='%1'>%2</backend>").arg(model, path);
        return refuse(what, QStringLiteral("reads randomness from something other than /dev/urandom"));
    }

    // An emulated TPM keeps its state under the domain's UUID, which a sandbox does not share: the
    // sandbox gets a new, empty TPM of its own that reaches nothing outside. Passthrough hands it the
    // host's TPM; an external one reaches a socket; an encrypted one uses a secret of the host.
    Result<void> tpm(const QDomElement& e)
    {
        const QDomElement backend = e.firstChildElement(QStringLiteral("backend"));
        if (backend.attribute(QStringLiteral("type")) != QLatin1String("emulator"))
            return refuse(
                QStringLiteral("<tpm><backend type='%1'>").arg(backend.attribute(QStringLiteral("type"))),
                QStringLiteral("reaches a TPM outside the guest"));
        for (const QDomElement& c : childElements(backend)) {
            if (c.localName() != QLatin1String("active_pcr_banks"))
                return refuse(QStringLiteral("<tpm><backend type='emulator'><%1>").arg(c.localName()),
                              QStringLiteral("uses a secret or file of the host"));
        }
        m_notes << QStringLiteral(
            "<tpm> is a new, empty TPM: nothing sealed to the source's TPM carries over");
        return {};
    }

    Result<void> chardev(QDomElement e)
    {
        const QString tag = e.localName();
        const QString type = e.attribute(QStringLiteral("type"));
        const QDomElement target = e.firstChildElement(QStringLiteral("target"));
        if (type == QLatin1String("spicevmc") || type == QLatin1String("qemu-vdagent")) {
            drop(e, QStringLiteral("a sandbox shares no clipboard, files or USB with a viewer"));
            return {};
        }
        if (tag == QLatin1String("channel")) {
            if (target.attribute(QStringLiteral("type")) == QLatin1String("guestfwd"))
                return refuse(e, QStringLiteral("forwards guest connections to the host"));
            if (type == QLatin1String("unix") && target.attribute(QStringLiteral("name")) == kAgentChannel) {
                // libvirt makes the agent's socket in its own folder when no path is given.
                for (QDomElement s : childElements(e)) {
                    if (s.localName() == QLatin1String("source"))
                        e.removeChild(s);
                }
                return {};
            }
            if (type == QLatin1String("pty"))
                return {};
        } else if (type == QLatin1String("pty") || type == QLatin1String("null") ||
                   type == QLatin1String("vc")) {
            return {};
        }
        return refuse(e, QStringLiteral("connects the guest to something outside it; Fluid keeps only pty "
                                        "consoles and the guest agent's channel"));
    }

    QDomElement m_root;
    QString m_name;
    QStringList m_imageDirs;
    QStringList m_notes;
};

} // namespace

Result<QStringList> containSourceDomain(QDomDocument& doc)
{
    return Allowlist(doc).run();
}

Result<QDomDocument> parseDomainDocument(const QString& xml)
{
    QDomDocument doc;
    QString message;
    int line = 0;
    if (!doc.setContent(xml, true, &message, &line)) {
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("The domain XML cannot be read"),
                         QStringLiteral("line %1: %2").arg(line).arg(message));
    }
    if (doc.documentElement().tagName() != QLatin1String("domain"))
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("The XML is not a libvirt domain"));
    return doc;
}

Result<QStringList> checkSourceContainment(const QString& xml)
{
    Result<QDomDocument> doc = parseDomainDocument(xml);
    if (!doc)
        return doc.error();
    return containSourceDomain(*doc);
}

} // namespace fluid::virt
