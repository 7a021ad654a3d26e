package wasip1

import experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

// Errno is a WASI preview1 errno, in the order of the witx documents.
type Errno uint16

// The errnos this layer returns. The values are the witx ones.
const (
	errSuccess     Errno = 0
	err2big        Errno = 1
	errAcces       Errno = 2
	errAgain       Errno = 6
	errBadf        Errno = 8
	errBusy        Errno = 10
	errDquot       Errno = 19
	errExist       Errno = 20
	errFault       Errno = 21
	errFbig        Errno = 22
	errIlseq       Errno = 25
	errIntr        Errno = 27
	errInval       Errno = 28
	errIO          Errno = 29
	errIsdir       Errno = 31
	errLoop        Errno = 32
	errMfile       Errno = 33
	errMlink       Errno = 34
	errNametoolong Errno = 37
	errNfile       Errno = 41
	errNoent       Errno = 44
	errNomem       Errno = 48
	errNospc       Errno = 51
	errNosys       Errno = 52
	errNotdir      Errno = 54
	errNotempty    Errno = 55
	errNotsock     Errno = 57
	errNotsup      Errno = 58
	errOverflow    Errno = 61
	errPerm        Errno = 63
	errPipe        Errno = 64
	errRange       Errno = 68
	errRofs        Errno = 69
	errSpipe       Errno = 70
	errXdev        Errno = 75
	errNotcapable  Errno = 76
)

// Errnos beyond wazero's experimental/sys set, which has no ENFILE,
// ENOSPC, EDQUOT or EFBIG: a file system (capfs) answers them with these
// values, outside that set, and fromSys maps them to WASI's own.
// Anything else that reads them sees an errno it does not know, as it
// would have seen EIO.
const (
	// ENFILE is the host out of descriptors: EMFILE or ENFILE from the
	// OS. The OS process's limit is every guest's, so to a guest it is
	// the system's table that is full, not its own (isle's own bounds
	// answer EMFILE before they are reached).
	ENFILE experimentalsys.Errno = 0x1000 + iota
	// ENOSPC is the host's file system full.
	ENOSPC
	// EDQUOT is the host's disk quota spent.
	EDQUOT
	// EFBIG is a file past the host's largest.
	EFBIG
)

// fromSys maps the errnos of wazero's experimental/sys (what capfs and the
// /.cap file system answer) onto WASI's, with those added here beyond
// wazero's set. Both follow POSIX names.
func fromSys(e experimentalsys.Errno) Errno {
	switch e {
	case 0:
		return errSuccess
	case experimentalsys.EACCES:
		return errAcces
	case experimentalsys.EAGAIN:
		return errAgain
	case experimentalsys.EBADF:
		return errBadf
	case experimentalsys.EEXIST:
		return errExist
	case experimentalsys.EFAULT:
		return errFault
	case experimentalsys.EINTR:
		return errIntr
	case experimentalsys.EINVAL:
		return errInval
	case experimentalsys.EIO:
		return errIO
	case experimentalsys.EISDIR:
		return errIsdir
	case experimentalsys.ELOOP:
		return errLoop
	case experimentalsys.ENAMETOOLONG:
		return errNametoolong
	case experimentalsys.ENOENT:
		return errNoent
	case experimentalsys.ENOSYS:
		return errNosys
	case experimentalsys.ENOTDIR:
		return errNotdir
	case experimentalsys.ERANGE:
		return errRange
	case experimentalsys.ENOTEMPTY:
		return errNotempty
	case experimentalsys.ENOTSOCK:
		return errNotsock
	case experimentalsys.ENOTSUP:
		return errNotsup
	case experimentalsys.EPERM:
		return errPerm
	case experimentalsys.EROFS:
		return errRofs
	case ENFILE:
		return errNfile
	case ENOSPC:
		return errNospc
	case EDQUOT:
		return errDquot
	case EFBIG:
		return errFbig
	}
	return errIO
}

// Rights, as bits of the witx "rights" flags.
const (
	rightFdDatasync uint64 = 1 << iota
	rightFdRead
	rightFdSeek
	rightFdFdstatSetFlags
	rightFdSync
	rightFdTell
	rightFdWrite
	rightFdAdvise
	rightFdAllocate
	rightPathCreateDirectory
	rightPathCreateFile
	rightPathLinkSource
	rightPathLinkTarget
	rightPathOpen
	rightFdReaddir
	rightPathReadlink
	rightPathRenameSource
	rightPathRenameTarget
	rightPathFilestatGet
	rightPathFilestatSetSize
	rightPathFilestatSetTimes
	rightFdFilestatGet
	rightFdFilestatSetSize
	rightFdFilestatSetTimes
	rightPathSymlink
	rightPathRemoveDirectory
	rightPathUnlinkFile
	rightPollFdReadwrite
	rightSockShutdown
	rightSockAccept
)

// Rights that apply to each kind of descriptor. path_open grants the
// requested rights that apply to what it opened, and no others; an
// operation whose right the descriptor lacks fails with ENOTCAPABLE.
const (
	// rightsFile are the rights a regular file can use.
	rightsFile = rightFdDatasync | rightFdRead | rightFdSeek | rightFdFdstatSetFlags |
		rightFdSync | rightFdTell | rightFdWrite | rightFdAdvise | rightFdAllocate |
		rightFdFilestatGet | rightFdFilestatSetSize | rightFdFilestatSetTimes | rightPollFdReadwrite
	// rightsDir are the rights a directory can use, as wasmtime reports
	// them for a preopen. PATH_FILESTAT_SET_SIZE (path_open with O_TRUNC)
	// is not among them and is not required: a directory cannot be
	// truncated, and no runtime checks it.
	rightsDir = rightPathCreateDirectory | rightPathCreateFile | rightPathLinkSource |
		rightPathLinkTarget | rightPathOpen | rightFdReaddir | rightPathReadlink |
		rightPathRenameSource | rightPathRenameTarget | rightPathSymlink |
		rightPathRemoveDirectory | rightPathUnlinkFile | rightPathFilestatGet |
		rightPathFilestatSetTimes | rightFdFilestatGet | rightFdFilestatSetTimes
	// rightsDirInheriting is what a preopen passes on to what is opened
	// through it.
	rightsDirInheriting = rightsDir | rightsFile
	// rightsStdin and rightsStdout are the standard streams'.
	rightsStdin  = rightFdRead | rightFdFilestatGet | rightPollFdReadwrite
	rightsStdout = rightFdWrite | rightFdFilestatGet | rightPollFdReadwrite
)

// File types.
const (
	filetypeUnknown         = 0
	filetypeBlockDevice     = 1
	filetypeCharacterDevice = 2
	filetypeDirectory       = 3
	filetypeRegularFile     = 4
	filetypeSymbolicLink    = 7
)

// fdflags.
const (
	fdflagAppend   uint16 = 1
	fdflagDsync    uint16 = 2
	fdflagNonblock uint16 = 4
	fdflagRsync    uint16 = 8
	fdflagSync     uint16 = 16

	fdflagsSyncs = fdflagDsync | fdflagRsync | fdflagSync
	fdflagsAll   = fdflagAppend | fdflagsSyncs | fdflagNonblock
)

// oflags, lookupflags, fstflags.
const (
	oflagCreat     = 1
	oflagDirectory = 2
	oflagExcl      = 4
	oflagTrunc     = 8

	lookupSymlinkFollow = 1

	fstAtim    = 1
	fstAtimNow = 2
	fstMtim    = 4
	fstMtimNow = 8
)

// Clocks.
const (
	clockRealtime         = 0
	clockMonotonic        = 1
	clockProcessCputimeID = 2
	clockThreadCputimeID  = 3
)

// Event types and flags for poll_oneoff.
const (
	eventClock   = 0
	eventFdRead  = 1
	eventFdWrite = 2

	subclockAbstime = 1
)

// Sizes and layouts of the structs the functions write.
const (
	sizeFdstat       = 24
	sizeFilestat     = 64
	sizeDirent       = 24
	sizeSubscription = 48
	sizeEvent        = 32
	sizeIovec        = 8
)
