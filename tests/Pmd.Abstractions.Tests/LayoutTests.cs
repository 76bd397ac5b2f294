using Pmd.Interop;
using Pmd.TestSupport;
using static Pmd.TestSupport.NativeLayout;

namespace Pmd.Abstractions.Tests;

/// <summary>The structs we hand to the kernel, against the C headers as gcc sees them.</summary>
public sealed class LayoutTests
{
    [Fact]
    public void Syscall_structs_match_the_C_headers()
    {
        var c = Probe(["sys/epoll.h", "sys/socket.h", "sys/un.h", "sys/uio.h", "poll.h"], new Dictionary<string, string>
        {
            ["epoll_event"] = "sizeof(struct epoll_event)",
            ["epoll_event.data"] = "offsetof(struct epoll_event, data)",
            ["sockaddr_un"] = "sizeof(struct sockaddr_un)",
            ["sockaddr_un.sun_path"] = "offsetof(struct sockaddr_un, sun_path)",
            ["iovec"] = "sizeof(struct iovec)",
            ["iovec.iov_len"] = "offsetof(struct iovec, iov_len)",
            ["msghdr"] = "sizeof(struct msghdr)",
            ["msghdr.msg_namelen"] = "offsetof(struct msghdr, msg_namelen)",
            ["msghdr.msg_iov"] = "offsetof(struct msghdr, msg_iov)",
            ["msghdr.msg_iovlen"] = "offsetof(struct msghdr, msg_iovlen)",
            ["msghdr.msg_control"] = "offsetof(struct msghdr, msg_control)",
            ["msghdr.msg_controllen"] = "offsetof(struct msghdr, msg_controllen)",
            ["msghdr.msg_flags"] = "offsetof(struct msghdr, msg_flags)",
            ["cmsghdr"] = "sizeof(struct cmsghdr)",
            ["cmsghdr.cmsg_level"] = "offsetof(struct cmsghdr, cmsg_level)",
            ["cmsghdr.cmsg_type"] = "offsetof(struct cmsghdr, cmsg_type)",
            ["CMSG_LEN(4)"] = "CMSG_LEN(4)",
            ["CMSG_SPACE(12)"] = "CMSG_SPACE(12)",
            ["pollfd"] = "sizeof(struct pollfd)",
            ["pollfd.revents"] = "offsetof(struct pollfd, revents)",
        });

        Assert.Equal(c["epoll_event"], SizeOf<Libc.EpollEvent>());
        Assert.Equal(c["epoll_event.data"], OffsetOf<Libc.EpollEvent>(nameof(Libc.EpollEvent.Data)));
        Assert.Equal(c["sockaddr_un"], SizeOf<Libc.SockAddrUn>());
        Assert.Equal(c["sockaddr_un.sun_path"], OffsetOf<Libc.SockAddrUn>(nameof(Libc.SockAddrUn.Path)));
        Assert.Equal(c["iovec"], SizeOf<Libc.IoVec>());
        Assert.Equal(c["iovec.iov_len"], OffsetOf<Libc.IoVec>(nameof(Libc.IoVec.Length)));
        Assert.Equal(c["msghdr"], SizeOf<Libc.MsgHdr>());
        Assert.Equal(c["msghdr.msg_namelen"], OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.NameLength)));
        Assert.Equal(c["msghdr.msg_iov"], OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.Iov)));
        Assert.Equal(c["msghdr.msg_iovlen"], OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.IovLength)));
        Assert.Equal(c["msghdr.msg_control"], OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.Control)));
        Assert.Equal(c["msghdr.msg_controllen"], OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.ControlLength)));
        Assert.Equal(c["msghdr.msg_flags"], OffsetOf<Libc.MsgHdr>(nameof(Libc.MsgHdr.Flags)));
        Assert.Equal(c["cmsghdr"], SizeOf<Libc.CMsgHdr>());
        Assert.Equal(c["cmsghdr.cmsg_level"], OffsetOf<Libc.CMsgHdr>(nameof(Libc.CMsgHdr.Level)));
        Assert.Equal(c["cmsghdr.cmsg_type"], OffsetOf<Libc.CMsgHdr>(nameof(Libc.CMsgHdr.Type)));
        Assert.Equal(c["CMSG_LEN(4)"], Libc.CMsgHdr.Len(4));
        Assert.Equal(c["CMSG_SPACE(12)"], Libc.CMsgHdr.Space(12));
        Assert.Equal(c["pollfd"], SizeOf<Libc.PollFd>());
        Assert.Equal(c["pollfd.revents"], OffsetOf<Libc.PollFd>(nameof(Libc.PollFd.Revents)));
    }

    [Fact]
    public void Syscall_constants_match_the_C_headers()
    {
        var c = Probe(["sys/epoll.h", "sys/socket.h", "sys/mman.h", "sys/eventfd.h", "fcntl.h", "errno.h", "linux/memfd.h"], new Dictionary<string, string>
        {
            ["EPOLLRDHUP"] = "EPOLLRDHUP",
            ["EPOLL_CLOEXEC"] = "EPOLL_CLOEXEC",
            ["MSG_NOSIGNAL"] = "MSG_NOSIGNAL",
            ["MSG_CMSG_CLOEXEC"] = "MSG_CMSG_CLOEXEC",
            ["SOCK_CLOEXEC"] = "SOCK_CLOEXEC",
            ["MAP_HUGETLB"] = "MAP_HUGETLB",
            ["MAP_POPULATE"] = "MAP_POPULATE",
            ["MFD_HUGETLB"] = "MFD_HUGETLB",
            ["MFD_HUGE_2MB"] = "MFD_HUGE_2MB",
            ["EFD_NONBLOCK"] = "EFD_NONBLOCK",
            ["O_CLOEXEC"] = "O_CLOEXEC",
            ["ECONNREFUSED"] = "ECONNREFUSED",
        });
        Assert.Equal((long)Libc.EpollEvents.RdHup, c["EPOLLRDHUP"]);
        Assert.Equal(Libc.EPOLL_CLOEXEC, c["EPOLL_CLOEXEC"]);
        Assert.Equal(Libc.MSG_NOSIGNAL, c["MSG_NOSIGNAL"]);
        Assert.Equal(Libc.MSG_CMSG_CLOEXEC, c["MSG_CMSG_CLOEXEC"]);
        Assert.Equal(Libc.SOCK_CLOEXEC, c["SOCK_CLOEXEC"]);
        Assert.Equal((long)Libc.MapFlags.HugeTlb, c["MAP_HUGETLB"]);
        Assert.Equal((long)Libc.MapFlags.Populate, c["MAP_POPULATE"]);
        Assert.Equal((long)Libc.MemfdFlags.HugeTlb, c["MFD_HUGETLB"]);
        Assert.Equal((long)Libc.MemfdFlags.Huge2MB, c["MFD_HUGE_2MB"]);
        Assert.Equal((long)Libc.EventFdFlags.NonBlock, c["EFD_NONBLOCK"]);
        Assert.Equal(Libc.O_CLOEXEC, c["O_CLOEXEC"]);
        Assert.Equal(Libc.ECONNREFUSED, c["ECONNREFUSED"]);
    }
}
