// Every visible string of the app, in Vietnamese (the default) and English.
// t('key', a, b) fills {0}, {1}; a missing key shows itself, so a gap is
// visible rather than silent.

const vi = {
  'app.title': 'Truyền thanh thông minh',
  'nav.menu': 'Trình đơn', 'nav.logout': 'Đăng xuất',
  'nav.dashboard': 'Tổng quan', 'nav.coverage': 'Độ phủ', 'nav.nodes': 'Cụm loa', 'nav.media': 'Thư viện âm thanh', 'nav.programme': 'Lịch phát',
  'nav.approvals': 'Duyệt bản tin', 'nav.control': 'Phát ngay', 'nav.plays': 'Nhật ký phát', 'nav.audit': 'Nhật ký thao tác', 'nav.users': 'Người dùng',
  'common.cancel': 'Huỷ', 'common.close': 'Đóng', 'common.delete': 'Xoá', 'common.edit': 'Sửa', 'common.actions': 'Thao tác',
  'common.empty': 'Chưa có gì.', 'common.loading': 'Đang tải…', 'common.seconds': '{0} giây', 'common.minutes': '{0} phút', 'common.aMoment': 'một lát',
  'role.admin': 'Quản trị hệ thống', 'role.officer': 'Cán bộ xã', 'role.leader': 'Lãnh đạo xã', 'role.province': 'Cán bộ tỉnh',

  'err.unauthorized': 'Phiên đăng nhập đã hết hạn hoặc chưa đăng nhập. Hãy đăng nhập lại.',
  'err.forbidden': 'Việc này nằm ngoài phạm vi quyền của bạn (địa bàn hoặc vai trò). Hãy nhờ người có quyền thực hiện.',
  'err.csrf': 'Phiên làm việc trên trang này đã cũ. Hãy tải lại trang (F5) rồi thử lại.',
  'err.not_found': 'Không tìm thấy mục này; có thể nó vừa bị xoá. Hãy tải lại trang.',
  'err.conflict': 'Mục này đã tồn tại hoặc vừa bị người khác thay đổi. Hãy tải lại trang rồi thử lại.',
  'err.invalid': 'Thông tin nhập chưa đúng. Hãy kiểm tra lại các ô đã điền.',
  'err.schedule': 'Lịch phát có chỗ chưa đúng. Hãy sửa các lỗi ghi bên dưới.',
  'err.too_large': 'Tệp quá lớn. Hãy chọn bản ghi ngắn hơn hoặc nén nhỏ lại rồi tải lên.',
  'err.not_audio': 'Tệp không phải bản ghi âm thanh hợp lệ, hãy chọn tệp mp3, m4a, wav, ogg, amr hoặc webm.',
  'err.rate_limited': 'Nhập sai mật khẩu quá nhiều lần. Hãy chờ {0} rồi thử lại.',
  'err.internal': 'Máy chủ gặp lỗi. Hãy thử lại sau ít phút; nếu vẫn lỗi, báo cho quản trị hệ thống.',
  'err.network': 'Không kết nối được máy chủ. Hãy kiểm tra mạng (4G/Wi-Fi) rồi thử lại.',
  'err.http': 'Máy chủ trả lời lỗi {0}. Hãy thử lại; nếu vẫn lỗi, báo cho quản trị hệ thống.',

  'login.title': 'Đăng nhập', 'login.intro': 'Hệ thống quản lý đài truyền thanh cơ sở.',
  'login.username': 'Tên đăng nhập', 'login.password': 'Mật khẩu', 'login.submit': 'Đăng nhập',
  'login.missing': 'Hãy nhập tên đăng nhập và mật khẩu.', 'login.wrong': 'Sai tên đăng nhập hoặc mật khẩu. Hãy kiểm tra lại (chú ý chữ hoa, chữ thường).',

  'pw.open': 'Đổi mật khẩu', 'pw.title': 'Đổi mật khẩu', 'pw.old': 'Mật khẩu hiện tại', 'pw.new': 'Mật khẩu mới (ít nhất 10 ký tự)',
  'pw.repeat': 'Nhập lại mật khẩu mới', 'pw.save': 'Lưu mật khẩu', 'pw.short': 'Mật khẩu mới cần ít nhất 10 ký tự.',
  'pw.mismatch': 'Hai lần nhập mật khẩu mới không khớp nhau.', 'pw.done': 'Đã đổi mật khẩu.', 'pw.wrongOld': 'Mật khẩu hiện tại không đúng.',

  'dash.nodes': 'Cụm loa', 'dash.online': 'Đang kết nối', 'dash.offline': 'Mất kết nối', 'dash.playing': 'Đang phát',
  'dash.next': 'Sắp phát (24 giờ tới)', 'dash.alerts': 'Cảnh báo', 'dash.nothingPlaying': 'Không cụm loa nào đang phát.',
  'dash.nothingNext': 'Không có bản tin nào trong 24 giờ tới.', 'dash.noAlerts': 'Không có cảnh báo. Mọi cụm loa hoạt động bình thường.',
  'dash.since': 'từ', 'dash.updated': 'Cập nhật lúc {0} (tự làm mới 20 giây một lần).',
  'alert.offline': 'Mất kết nối', 'alert.silent': 'Im lặng nhiều giờ', 'alert.error': 'Lỗi', 'alert.disk': 'Đầy bộ nhớ',

  'cov.stations': 'Đài truyền thanh', 'cov.kinds': 'IP {0} · FM {1} · có dây {2}',
  'cov.online': 'Cụm loa trực tuyến', 'cov.offlineN': '{0} mất kết nối', 'cov.allOnline': 'đủ cả', 'cov.noClusters': 'chưa có cụm loa',
  'cov.aired': 'Lượt phát hôm nay: đã phát / đến giờ', 'cov.partlyMissed': '{0} phát một phần · {1} không phát',
  'cov.noneDue': 'chưa có lượt nào đến giờ', 'cov.missed': 'Lượt không phát hôm nay', 'cov.partlyN': '{0} lượt phát một phần',
  'cov.partlyShort': '{0} một phần', 'cov.bar': '{0} đã phát, {1} phát một phần, {2} không phát, trên {3} lượt đến giờ',
  'cov.asOf': 'Số liệu ngày {0}, tính đến {1} (giờ Việt Nam). Tự làm mới {2} giây một lần.',
  'cov.refreshFailed': 'Chưa làm mới được số liệu: {0}', 'cov.byCommune': 'Theo xã', 'cov.byStation': 'Theo đài',
  'cov.sortBy': 'Sắp xếp', 'cov.sort.aired-asc': '% đã phát, thấp nhất trước', 'cov.sort.aired-desc': '% đã phát, cao nhất trước',
  'cov.sort.online-asc': '% trực tuyến, thấp nhất trước', 'cov.sort.online-desc': '% trực tuyến, cao nhất trước', 'cov.sort.name-asc': 'Tên xã (A–Z)',
  'cov.commune': 'Xã', 'cov.stationsCol': 'Số đài', 'cov.clusters': 'Cụm loa trực tuyến', 'cov.pctOnline': '% trực tuyến', 'cov.ofClusters': '({0}/{1} cụm loa)', 'cov.ofDue': '({0}/{1} lượt)',
  'cov.today': 'Hôm nay: đã phát / đến giờ', 'cov.pctAired': '% đã phát hôm nay', 'cov.missedCol': 'Không phát',
  'cov.showStations': 'Xem các đài của xã này', 'cov.noCommunes': 'Chưa có xã nào trong địa bàn.',
  'cov.station': 'Đài', 'cov.kind': 'Loại', 'cov.lastReport': 'Báo cáo gần nhất', 'cov.allCommunes': 'Tất cả các xã',
  'cov.search': 'Tìm đài', 'cov.searchHint': 'tên đài, mã đài, tên xã…', 'cov.shown': 'Hiện {0} trên {1} đài.',
  'cov.noStations': 'Không có đài nào khớp bộ lọc.', 'cov.notMonitored': 'không giám sát qua IP',
  'kind.ip': 'IP', 'kind.fm': 'FM', 'kind.wired': 'Có dây',

  'node.online': 'Trực tuyến', 'node.offline': 'Mất kết nối',
  'nodes.map': 'Bản đồ cụm loa', 'nodes.list': 'Danh sách cụm loa', 'nodes.clickHint': 'Chạm vào một cụm loa trên bản đồ để xem chi tiết.',
  'nodes.id': 'Mã', 'nodes.name': 'Tên', 'nodes.station': 'Đài', 'nodes.zones': 'Vùng phát', 'nodes.status': 'Trạng thái',
  'nodes.volume': 'Âm lượng', 'nodes.playing': 'Đang phát', 'nodes.version': 'Phiên bản', 'nodes.lastReport': 'Báo cáo gần nhất',
  'nodes.audio': 'Đầu ra âm thanh', 'nodes.position': 'Vị trí', 'nodes.error': 'Lỗi', 'nodes.idle': 'Không phát',
  'nodes.revoked': 'Đã thu hồi', 'nodes.none': 'Chưa có cụm loa nào.', 'nodes.noPosition': 'Chưa cụm loa nào có toạ độ.',

  'media.new': 'Tải bản ghi lên', 'media.library': 'Các bản ghi', 'media.choose': 'Chọn tệp âm thanh',
  'media.formats': 'mp3, m4a, wav, ogg, amr hoặc webm. Máy chủ sẽ chuyển sang định dạng gọn để gửi qua 4G.',
  'media.upload': 'Tải lên', 'media.pick': 'Hãy chọn một tệp trước.', 'media.progress': 'Tiến độ tải lên',
  'media.uploading': 'Đang tải lên… {0}%', 'media.transcoding': 'Đang chuyển mã… (có thể mất vài chục giây)',
  'media.done': 'Đã thêm “{0}” ({1}).', 'media.name': 'Tên', 'media.duration': 'Thời lượng', 'media.size': 'Dung lượng',
  'media.format': 'Định dạng gốc', 'media.date': 'Ngày tải', 'media.by': 'Người tải', 'media.listen': 'Nghe thử',
  'media.none': 'Thư viện chưa có bản ghi nào.',

  'prog.station': 'Đài', 'prog.new': '+ Thêm bản tin', 'prog.drafts': '{0} chờ duyệt', 'prog.calendar': 'Lịch trong tuần',
  'prog.prev': 'Tuần trước', 'prog.next': 'Tuần sau', 'prog.prevWeek': 'Xem tuần trước', 'prog.nextWeek': 'Xem tuần sau', 'prog.thisWeek': 'Tuần này',
  'prog.week': 'Từ {0} đến {1}', 'prog.tzNote': 'Giờ Việt Nam (GMT+7).', 'prog.nothing': 'Không phát',
  'prog.bulletins': 'Các bản tin', 'prog.noBulletins': 'Đài này chưa có bản tin nào. Bấm “Thêm bản tin” để lập lịch.',
  'prog.noStation': 'Bạn chưa được giao đài nào.', 'prog.confirmDelete': 'Xoá bản tin “{0}” khỏi lịch phát?',
  'prog.deleted': 'Đã xoá “{0}”.', 'prog.saved': 'Đã lưu “{0}”. Bản tin cần lãnh đạo duyệt trước khi phát.',

  'b.title': 'Tiêu đề', 'b.when': 'Thời gian phát', 'b.target': 'Nơi phát', 'b.source': 'Bản ghi', 'b.priority': 'Mức ưu tiên', 'b.status': 'Trạng thái',
  'prio.normal': 'Thông thường', 'prio.priority': 'Ưu tiên', 'prio.emergency': 'Khẩn cấp',
  'status.draft': 'Chờ duyệt', 'status.approved': 'Đã duyệt', 'status.played': 'Đã phát', 'status.partly played': 'Phát một phần',
  'status.missed': 'Không phát', 'status.playing': 'Đang phát', 'status.upcoming': 'Sắp phát',
  'target.commune': 'Toàn xã', 'target.zone': 'Vùng phát', 'target.nodes': 'Cụm loa',
  'src.media': 'Bản ghi', 'src.file': 'Tệp trên máy chủ', 'src.tts': 'Đọc văn bản', 'src.relay': 'Tiếp sóng', 'src.live': 'Phát trực tiếp',
  'rec.once': 'Một lần', 'rec.daily': 'Hằng ngày', 'rec.weekly': 'Hằng tuần', 'rec.every': 'Cách N tuần', 'rec.cron': 'Biểu thức cron (nâng cao)',
  'rec.onceAt': 'Ngày {0} lúc {1}', 'rec.dailyAt': 'Hằng ngày lúc {0}', 'rec.weeklyAt': '{0} hằng tuần lúc {1}',
  'rec.everyAt': '{1}, {0} tuần một lần, lúc {2}', 'rec.cronAt': 'Theo cron “{0}”',
  'wd.mon': 'Thứ Hai', 'wd.tue': 'Thứ Ba', 'wd.wed': 'Thứ Tư', 'wd.thu': 'Thứ Năm', 'wd.fri': 'Thứ Sáu', 'wd.sat': 'Thứ Bảy', 'wd.sun': 'Chủ Nhật',

  'f.newTitle': 'Bản tin mới', 'f.editTitle': 'Sửa bản tin “{0}”',
  'f.draftNote': 'Sau khi lưu, bản tin ở trạng thái “chờ duyệt” cho đến khi lãnh đạo xã duyệt (bản tin khẩn cấp vẫn được phát).',
  'f.id': 'Mã bản tin', 'f.idHint': 'Tự đặt theo tiêu đề: chữ thường không dấu, số, dấu gạch.',
  'f.media': 'Bản ghi', 'f.chooseMedia': '— Chọn bản ghi trong thư viện —', 'f.keepSource': 'Giữ nguồn hiện tại ({0})',
  'f.noZones': 'Đài chưa có vùng phát nào.', 'f.noNodes': 'Đài chưa có cụm loa nào.',
  'f.rec': 'Lặp lại', 'f.date': 'Ngày phát', 'f.times': 'Giờ phát', 'f.timesHint': 'Giờ Việt Nam, nhiều giờ cách nhau bằng dấu phẩy, ví dụ 06:30, 17:00 (có thể ghi cả giây: 06:30:15).',
  'f.weekdays': 'Các ngày trong tuần', 'f.weeks': 'Bao nhiêu tuần một lần', 'f.cron': 'Biểu thức cron', 'f.cronHint': 'Sáu trường, giây trước: giây phút giờ ngày tháng thứ. Ví dụ “0 0 11 1,15 * *” là 11 giờ ngày 1 và 15 hằng tháng.',
  'f.from': 'Từ ngày', 'f.until': 'Đến ngày', 'f.more': 'Tuỳ chọn thêm', 'f.repeat': 'Phát lặp thêm (lần)', 'f.gap': 'Cách nhau',
  'f.duration': 'Thời lượng', 'f.durationHint': 'Chỉ cần khi không biết độ dài bản ghi, ví dụ 5m, 1h30m.',
  'f.onInterrupt': 'Khi bị bản tin ưu tiên hơn chen vào', 'f.int.resume': 'Phát tiếp phần còn lại', 'f.int.skip': 'Bỏ phần còn lại',
  'f.onHoliday': 'Vào ngày lễ', 'f.hol.skip': 'Không phát', 'f.hol.play': 'Vẫn phát',
  'f.saveNew': 'Lưu bản tin', 'f.saveChange': 'Lưu thay đổi', 'f.fix': 'Cần sửa {0} chỗ trước khi lưu:',

  'v.title': 'Hãy nhập tiêu đề bản tin.', 'v.id': 'Mã bản tin chỉ gồm chữ thường không dấu, số, “-”, “_”, “.” (tối đa 48 ký tự).',
  'v.idTaken': 'Đã có bản tin mã “{0}”; hãy đổi tiêu đề hoặc mã.', 'v.media': 'Hãy chọn bản ghi sẽ phát (tải lên ở trang Thư viện âm thanh).',
  'v.zones': 'Hãy chọn ít nhất một vùng phát.', 'v.nodes': 'Hãy chọn ít nhất một cụm loa.', 'v.times': 'Hãy nhập giờ phát.',
  'v.timeFormat': 'Giờ không đúng dạng giờ:phút: {0}.', 'v.date': 'Hãy chọn ngày phát.', 'v.weekdays': 'Hãy chọn ít nhất một ngày trong tuần.',
  'v.weeks': 'Số tuần phải từ 1 trở lên.', 'v.everyFrom': 'Lặp “cách N tuần” cần có ngày bắt đầu (“Từ ngày”).',
  'v.cron': 'Biểu thức cron cần đúng sáu trường cách nhau bằng dấu cách.', 'v.range': '“Đến ngày” phải sau “Từ ngày”.',

  'appr.readonly': 'Chỉ lãnh đạo xã mới duyệt được bản tin. Bạn xem được danh sách chờ duyệt.',
  'appr.none': 'Không có bản tin nào chờ duyệt.', 'appr.approve': 'Duyệt phát', 'appr.done': 'Đã duyệt “{0}”.',
  'appr.station': 'Đài', 'appr.range': 'Thời hạn',

  'ctl.readonly': 'Vai trò của bạn chỉ được xem, không điều khiển loa.', 'ctl.where': 'Phát ở đâu', 'ctl.target': 'Vùng phát hoặc cụm loa',
  'ctl.zones': 'Vùng phát', 'ctl.nodes': 'Cụm loa', 'ctl.playNow': 'Phát ngay', 'ctl.title': 'Tiêu đề (ghi vào nhật ký)',
  'ctl.play': 'Phát ngay', 'ctl.stop': 'Dừng phát', 'ctl.confirmEmergency': 'Phát KHẨN CẤP sẽ ngắt mọi bản tin đang phát. Tiếp tục?',
  'ctl.played': 'Đã gửi lệnh. Loa bắt đầu phát lúc {0}.', 'ctl.stopped': 'Đã gửi lệnh dừng.', 'ctl.speaker': 'Loa và âm ly',
  'ctl.volume': 'Âm lượng', 'ctl.setVolume': 'Đặt âm lượng', 'ctl.volumeSet': 'Đã gửi lệnh đặt âm lượng {0}.',
  'ctl.amp': 'Âm ly', 'ctl.ampAuto': 'Tự động (bật khi phát)', 'ctl.ampOn': 'Luôn bật', 'ctl.ampOff': 'Tắt', 'ctl.setAmp': 'Đặt âm ly', 'ctl.ampSet': 'Đã gửi lệnh âm ly: {0}.',

  'plays.filter': 'Lọc', 'plays.node': 'Cụm loa', 'plays.station': 'Đài', 'plays.type': 'Sự kiện', 'plays.since': 'Từ ngày', 'plays.until': 'Đến ngày',
  'plays.allNodes': 'Tất cả cụm loa', 'plays.allStations': 'Tất cả các đài', 'plays.allTypes': 'Mọi sự kiện', 'plays.apply': 'Xem',
  'plays.csv': 'Xuất CSV', 'plays.playNow': 'Phát ngay',
  'reason.stopped': 'Dừng theo lệnh', 'reason.preempted': 'Bản tin ưu tiên hơn chen vào', 'reason.restarted': 'Cụm loa khởi động lại', 'reason.content': 'Không lấy được bản ghi',
  'plays.events': 'Các lần phát', 'plays.at': 'Thời điểm', 'plays.item': 'Bản tin', 'plays.played': 'Đã phát',
  'plays.reason': 'Ghi chú', 'plays.none': 'Không có lần phát nào trong khoảng này.', 'plays.report': 'Đối chiếu lịch và thực tế',
  'plays.reportNote': 'Mỗi lần phát theo lịch, trên từng cụm loa: đã phát, phát một phần hay không phát.', 'plays.noReport': 'Không có lần phát theo lịch nào trong khoảng này.',
  'ev.started': 'Bắt đầu', 'ev.resumed': 'Phát tiếp', 'ev.finished': 'Phát xong', 'ev.interrupted': 'Bị ngắt', 'ev.failed': 'Lỗi',

  'audit.when': 'Thời điểm', 'audit.who': 'Người thực hiện', 'audit.what': 'Thao tác', 'audit.target': 'Đối tượng', 'audit.detail': 'Chi tiết',
  'audit.from': 'Từ địa chỉ', 'audit.none': 'Chưa có thao tác nào.', 'audit.filter': 'Tìm', 'audit.filterHint': 'người, thao tác, đối tượng…',

  'act.login': 'Đăng nhập', 'act.login.fail': 'Đăng nhập sai', 'act.logout': 'Đăng xuất', 'act.area.create': 'Tạo địa bàn',
  'act.station.create': 'Tạo đài', 'act.zone.create': 'Tạo vùng phát', 'act.zone.nodes': 'Đổi cụm loa của vùng',
  'act.node.enrol': 'Đăng ký cụm loa', 'act.node.revoke': 'Thu hồi cụm loa', 'act.node.secret': 'Đổi khoá cụm loa',
  'act.media.upload': 'Tải bản ghi lên', 'act.play': 'Phát ngay', 'act.stop': 'Dừng phát', 'act.volume': 'Đặt âm lượng', 'act.amp': 'Đặt âm ly',
  'act.bulletin.create': 'Thêm bản tin', 'act.bulletin.change': 'Sửa bản tin', 'act.bulletin.delete': 'Xoá bản tin', 'act.bulletin.approve': 'Duyệt bản tin',
  'act.schedule.save': 'Lưu lịch phát', 'act.schedule.delete': 'Xoá lịch phát', 'act.user.create': 'Tạo tài khoản',
  'act.user.password': 'Đổi mật khẩu', 'act.user.disable': 'Khoá tài khoản', 'act.user.enable': 'Mở khoá tài khoản',
  'act.key.prepare': 'Chuẩn bị đổi khoá ký', 'act.key.commit': 'Đổi khoá ký',

  'users.new': 'Tạo tài khoản', 'users.list': 'Tài khoản', 'users.username': 'Tên đăng nhập', 'users.usernameHint': 'Chữ thường không dấu, số, dấu chấm, ví dụ an.nguyen',
  'users.name': 'Họ và tên', 'users.role': 'Vai trò', 'users.area': 'Địa bàn', 'users.allAreas': 'Mọi địa bàn',
  'users.password': 'Mật khẩu (để trống để máy tự tạo)', 'users.passwordHint': 'Ít nhất 10 ký tự.', 'users.create': 'Tạo tài khoản',
  'users.created': 'Đã tạo tài khoản {0}.', 'users.generated': 'Mật khẩu (chỉ hiện một lần, hãy ghi lại và trao cho người dùng):',
  'users.status': 'Trạng thái', 'users.active': 'Đang dùng', 'users.disabled': 'Đã khoá', 'users.disable': 'Khoá',
  'users.enable': 'Mở khoá', 'users.confirmDisable': 'Khoá tài khoản {0}? Người này sẽ không đăng nhập được nữa.',
  'users.badUsername': 'Tên đăng nhập chỉ gồm chữ thường không dấu, số, “.”, “_”, “-”.', 'users.noName': 'Hãy nhập họ và tên.',
};

const en = {
  'app.title': 'Smart commune radio',
  'nav.menu': 'Menu', 'nav.logout': 'Log out',
  'nav.dashboard': 'Dashboard', 'nav.coverage': 'Coverage', 'nav.nodes': 'Speaker clusters', 'nav.media': 'Media library', 'nav.programme': 'Programme',
  'nav.approvals': 'Approvals', 'nav.control': 'Play now', 'nav.plays': 'Proof of play', 'nav.audit': 'Audit log', 'nav.users': 'Users',
  'common.cancel': 'Cancel', 'common.close': 'Close', 'common.delete': 'Delete', 'common.edit': 'Edit', 'common.actions': 'Actions',
  'common.empty': 'Nothing yet.', 'common.loading': 'Loading…', 'common.seconds': '{0} seconds', 'common.minutes': '{0} minutes', 'common.aMoment': 'a moment',
  'role.admin': 'Administrator', 'role.officer': 'Commune officer', 'role.leader': 'Commune leader', 'role.province': 'Provincial staff',

  'err.unauthorized': 'Your session has expired or you are not logged in. Please log in again.',
  'err.forbidden': 'This is outside the scope of your permissions (area or role). Ask someone who has them.',
  'err.csrf': 'This page is out of date. Reload it (F5) and try again.',
  'err.not_found': 'Not found; it may just have been deleted. Reload the page.',
  'err.conflict': 'This already exists or was just changed by someone else. Reload the page and try again.',
  'err.invalid': 'Something entered is not right. Check the fields you filled in.',
  'err.schedule': 'The programme has mistakes. Fix the ones listed below.',
  'err.too_large': 'The file is too large. Choose a shorter recording or compress it, then upload again.',
  'err.not_audio': 'The file is not a valid recording; choose an mp3, m4a, wav, ogg, amr or webm file.',
  'err.rate_limited': 'Too many wrong passwords. Wait {0} and try again.',
  'err.internal': 'The server had a problem. Try again in a few minutes; if it persists, tell the administrator.',
  'err.network': 'Cannot reach the server. Check the network (4G/Wi-Fi) and try again.',
  'err.http': 'The server answered with error {0}. Try again; if it persists, tell the administrator.',

  'login.title': 'Log in', 'login.intro': 'Management of commune radio stations.',
  'login.username': 'Username', 'login.password': 'Password', 'login.submit': 'Log in',
  'login.missing': 'Enter your username and password.', 'login.wrong': 'Wrong username or password. Check them (letter case matters).',

  'pw.open': 'Change password', 'pw.title': 'Change password', 'pw.old': 'Current password', 'pw.new': 'New password (at least 10 characters)',
  'pw.repeat': 'Repeat the new password', 'pw.save': 'Save password', 'pw.short': 'The new password needs at least 10 characters.',
  'pw.mismatch': 'The two new passwords differ.', 'pw.done': 'Password changed.', 'pw.wrongOld': 'The current password is wrong.',

  'dash.nodes': 'Clusters', 'dash.online': 'Online', 'dash.offline': 'Offline', 'dash.playing': 'Playing now',
  'dash.next': 'Next (24 hours)', 'dash.alerts': 'Alerts', 'dash.nothingPlaying': 'No cluster is playing.',
  'dash.nothingNext': 'Nothing scheduled in the next 24 hours.', 'dash.noAlerts': 'No alerts. Every cluster is working normally.',
  'dash.since': 'since', 'dash.updated': 'Updated at {0} (refreshes every 20 seconds).',
  'alert.offline': 'Offline', 'alert.silent': 'Silent for hours', 'alert.error': 'Error', 'alert.disk': 'Disk full',

  'cov.stations': 'Stations', 'cov.kinds': 'IP {0} · FM {1} · wired {2}',
  'cov.online': 'Clusters online', 'cov.offlineN': '{0} offline', 'cov.allOnline': 'all up', 'cov.noClusters': 'no clusters yet',
  'cov.aired': 'Plays today: aired / due', 'cov.partlyMissed': '{0} partly played · {1} missed',
  'cov.noneDue': 'nothing due yet', 'cov.missed': 'Plays missed today', 'cov.partlyN': '{0} partly played',
  'cov.partlyShort': '{0} partly', 'cov.bar': '{0} aired, {1} partly played, {2} missed, of {3} due',
  'cov.asOf': 'Figures for {0}, up to {1} (Vietnam time). Refreshes every {2} seconds.',
  'cov.refreshFailed': 'Could not refresh the figures: {0}', 'cov.byCommune': 'By commune', 'cov.byStation': 'By station',
  'cov.sortBy': 'Sort', 'cov.sort.aired-asc': '% aired, lowest first', 'cov.sort.aired-desc': '% aired, highest first',
  'cov.sort.online-asc': '% online, lowest first', 'cov.sort.online-desc': '% online, highest first', 'cov.sort.name-asc': 'Commune name (A–Z)',
  'cov.commune': 'Commune', 'cov.stationsCol': 'Stations', 'cov.clusters': 'Clusters online', 'cov.pctOnline': '% online', 'cov.ofClusters': '({0}/{1} clusters)', 'cov.ofDue': '({0}/{1} plays)',
  'cov.today': 'Today: aired / due', 'cov.pctAired': '% aired today', 'cov.missedCol': 'Missed',
  'cov.showStations': 'Show the stations of this commune', 'cov.noCommunes': 'No communes in the area yet.',
  'cov.station': 'Station', 'cov.kind': 'Kind', 'cov.lastReport': 'Last report', 'cov.allCommunes': 'All communes',
  'cov.search': 'Find a station', 'cov.searchHint': 'station name, ID, commune…', 'cov.shown': 'Showing {0} of {1} stations.',
  'cov.noStations': 'No station matches the filter.', 'cov.notMonitored': 'not monitored over IP',
  'kind.ip': 'IP', 'kind.fm': 'FM', 'kind.wired': 'Wired',

  'node.online': 'Online', 'node.offline': 'Offline',
  'nodes.map': 'Cluster map', 'nodes.list': 'Clusters', 'nodes.clickHint': 'Tap a cluster on the map for its details.',
  'nodes.id': 'ID', 'nodes.name': 'Name', 'nodes.station': 'Station', 'nodes.zones': 'Zones', 'nodes.status': 'Status',
  'nodes.volume': 'Volume', 'nodes.playing': 'Playing', 'nodes.version': 'Version', 'nodes.lastReport': 'Last report',
  'nodes.audio': 'Audio output', 'nodes.position': 'Position', 'nodes.error': 'Error', 'nodes.idle': 'Idle',
  'nodes.revoked': 'Revoked', 'nodes.none': 'No clusters yet.', 'nodes.noPosition': 'No cluster has coordinates yet.',

  'media.new': 'Upload a recording', 'media.library': 'Recordings', 'media.choose': 'Choose an audio file',
  'media.formats': 'mp3, m4a, wav, ogg, amr or webm. The server converts it to a compact format for 4G.',
  'media.upload': 'Upload', 'media.pick': 'Choose a file first.', 'media.progress': 'Upload progress',
  'media.uploading': 'Uploading… {0}%', 'media.transcoding': 'Transcoding… (may take some tens of seconds)',
  'media.done': 'Added “{0}” ({1}).', 'media.name': 'Name', 'media.duration': 'Duration', 'media.size': 'Size',
  'media.format': 'Original format', 'media.date': 'Uploaded', 'media.by': 'By', 'media.listen': 'Listen',
  'media.none': 'The library has no recordings yet.',

  'prog.station': 'Station', 'prog.new': '+ New bulletin', 'prog.drafts': '{0} awaiting approval', 'prog.calendar': 'Week',
  'prog.prev': 'Previous', 'prog.next': 'Next', 'prog.prevWeek': 'Previous week', 'prog.nextWeek': 'Next week', 'prog.thisWeek': 'This week',
  'prog.week': '{0} to {1}', 'prog.tzNote': 'Vietnam time (GMT+7).', 'prog.nothing': 'Nothing',
  'prog.bulletins': 'Bulletins', 'prog.noBulletins': 'This station has no bulletins yet. Press “New bulletin” to schedule one.',
  'prog.noStation': 'You have no station assigned.', 'prog.confirmDelete': 'Delete the bulletin “{0}” from the programme?',
  'prog.deleted': 'Deleted “{0}”.', 'prog.saved': 'Saved “{0}”. A leader must approve it before it airs.',

  'b.title': 'Title', 'b.when': 'When', 'b.target': 'Where', 'b.source': 'Recording', 'b.priority': 'Priority', 'b.status': 'Status',
  'prio.normal': 'Normal', 'prio.priority': 'Priority', 'prio.emergency': 'Emergency',
  'status.draft': 'Draft', 'status.approved': 'Approved', 'status.played': 'Played', 'status.partly played': 'Partly played',
  'status.missed': 'Missed', 'status.playing': 'Playing', 'status.upcoming': 'Upcoming',
  'target.commune': 'Whole commune', 'target.zone': 'Zones', 'target.nodes': 'Clusters',
  'src.media': 'Recording', 'src.file': 'File on the server', 'src.tts': 'Text to speech', 'src.relay': 'Relay', 'src.live': 'Live',
  'rec.once': 'Once', 'rec.daily': 'Daily', 'rec.weekly': 'Weekly', 'rec.every': 'Every N weeks', 'rec.cron': 'Cron expression (advanced)',
  'rec.onceAt': 'On {0} at {1}', 'rec.dailyAt': 'Daily at {0}', 'rec.weeklyAt': 'Every {0} at {1}',
  'rec.everyAt': '{1}, every {0} weeks, at {2}', 'rec.cronAt': 'Cron “{0}”',
  'wd.mon': 'Monday', 'wd.tue': 'Tuesday', 'wd.wed': 'Wednesday', 'wd.thu': 'Thursday', 'wd.fri': 'Friday', 'wd.sat': 'Saturday', 'wd.sun': 'Sunday',

  'f.newTitle': 'New bulletin', 'f.editTitle': 'Edit “{0}”',
  'f.draftNote': 'Once saved, the bulletin is a draft until a commune leader approves it (emergency bulletins air anyway).',
  'f.id': 'Bulletin ID', 'f.idHint': 'Made from the title: lowercase letters, digits, dashes.',
  'f.media': 'Recording', 'f.chooseMedia': '— Choose a recording from the library —', 'f.keepSource': 'Keep the current source ({0})',
  'f.noZones': 'The station has no zones.', 'f.noNodes': 'The station has no clusters.',
  'f.rec': 'Repeats', 'f.date': 'Date', 'f.times': 'Times', 'f.timesHint': 'Vietnam time, several separated by commas, e.g. 06:30, 17:00 (seconds allowed: 06:30:15).',
  'f.weekdays': 'Weekdays', 'f.weeks': 'Every how many weeks', 'f.cron': 'Cron expression', 'f.cronHint': 'Six fields, seconds first: s m h day month weekday. “0 0 11 1,15 * *” is 11:00 on the 1st and 15th.',
  'f.from': 'From', 'f.until': 'Until', 'f.more': 'More options', 'f.repeat': 'Extra plays', 'f.gap': 'Gap between plays',
  'f.duration': 'Duration', 'f.durationHint': 'Only when the recording length is unknown, e.g. 5m, 1h30m.',
  'f.onInterrupt': 'When a higher priority cuts in', 'f.int.resume': 'Play the rest afterwards', 'f.int.skip': 'Drop the rest',
  'f.onHoliday': 'On holidays', 'f.hol.skip': 'Do not air', 'f.hol.play': 'Air anyway',
  'f.saveNew': 'Save bulletin', 'f.saveChange': 'Save changes', 'f.fix': '{0} thing(s) to fix before saving:',

  'v.title': 'Enter a title.', 'v.id': 'The ID may hold lowercase letters, digits, “-”, “_”, “.” (48 at most).',
  'v.idTaken': 'A bulletin “{0}” exists; change the title or the ID.', 'v.media': 'Choose the recording to play (upload it in the Media library).',
  'v.zones': 'Choose at least one zone.', 'v.nodes': 'Choose at least one cluster.', 'v.times': 'Enter the time(s).',
  'v.timeFormat': 'Not an hour:minute time: {0}.', 'v.date': 'Choose the date.', 'v.weekdays': 'Choose at least one weekday.',
  'v.weeks': 'The number of weeks must be 1 or more.', 'v.everyFrom': '“Every N weeks” needs a start date (“From”).',
  'v.cron': 'A cron expression needs exactly six fields separated by spaces.', 'v.range': '“Until” must come after “From”.',

  'appr.readonly': 'Only commune leaders can approve. You can see what is waiting.',
  'appr.none': 'Nothing is waiting for approval.', 'appr.approve': 'Approve', 'appr.done': 'Approved “{0}”.',
  'appr.station': 'Station', 'appr.range': 'Valid',

  'ctl.readonly': 'Your role may look but not control the speakers.', 'ctl.where': 'Where', 'ctl.target': 'Zone or cluster',
  'ctl.zones': 'Zones', 'ctl.nodes': 'Clusters', 'ctl.playNow': 'Play now', 'ctl.title': 'Title (for the log)',
  'ctl.play': 'Play now', 'ctl.stop': 'Stop', 'ctl.confirmEmergency': 'An EMERGENCY play interrupts whatever is playing. Continue?',
  'ctl.played': 'Command sent. The speakers start at {0}.', 'ctl.stopped': 'Stop command sent.', 'ctl.speaker': 'Speakers and amplifier',
  'ctl.volume': 'Volume', 'ctl.setVolume': 'Set volume', 'ctl.volumeSet': 'Volume {0} sent.',
  'ctl.amp': 'Amplifier', 'ctl.ampAuto': 'Automatic (on while playing)', 'ctl.ampOn': 'Always on', 'ctl.ampOff': 'Off', 'ctl.setAmp': 'Set amplifier', 'ctl.ampSet': 'Amplifier command sent: {0}.',

  'plays.filter': 'Filter', 'plays.node': 'Cluster', 'plays.station': 'Station', 'plays.type': 'Event', 'plays.since': 'From', 'plays.until': 'Until',
  'plays.allNodes': 'All clusters', 'plays.allStations': 'All stations', 'plays.allTypes': 'All events', 'plays.apply': 'Show',
  'plays.csv': 'Export CSV', 'plays.playNow': 'Play now',
  'reason.stopped': 'Stopped by command', 'reason.preempted': 'A higher priority cut in', 'reason.restarted': 'The cluster restarted', 'reason.content': 'Recording unavailable',
  'plays.events': 'Plays', 'plays.at': 'Time', 'plays.item': 'Bulletin', 'plays.played': 'Played',
  'plays.reason': 'Note', 'plays.none': 'No plays in this range.', 'plays.report': 'Scheduled vs aired',
  'plays.reportNote': 'Each scheduled occurrence on each cluster: played, partly played or missed.', 'plays.noReport': 'No scheduled occurrences in this range.',
  'ev.started': 'Started', 'ev.resumed': 'Resumed', 'ev.finished': 'Finished', 'ev.interrupted': 'Interrupted', 'ev.failed': 'Failed',

  'audit.when': 'When', 'audit.who': 'Who', 'audit.what': 'What', 'audit.target': 'Target', 'audit.detail': 'Detail',
  'audit.from': 'From', 'audit.none': 'Nothing logged yet.', 'audit.filter': 'Search', 'audit.filterHint': 'person, action, target…',

  'act.login': 'Log in', 'act.login.fail': 'Failed login', 'act.logout': 'Log out', 'act.area.create': 'Create area',
  'act.station.create': 'Create station', 'act.zone.create': 'Create zone', 'act.zone.nodes': 'Change zone clusters',
  'act.node.enrol': 'Enrol cluster', 'act.node.revoke': 'Revoke cluster', 'act.node.secret': 'Rotate cluster secret',
  'act.media.upload': 'Upload recording', 'act.play': 'Play now', 'act.stop': 'Stop', 'act.volume': 'Set volume', 'act.amp': 'Set amplifier',
  'act.bulletin.create': 'Add bulletin', 'act.bulletin.change': 'Change bulletin', 'act.bulletin.delete': 'Delete bulletin', 'act.bulletin.approve': 'Approve bulletin',
  'act.schedule.save': 'Save programme', 'act.schedule.delete': 'Delete programme', 'act.user.create': 'Create account',
  'act.user.password': 'Change password', 'act.user.disable': 'Disable account', 'act.user.enable': 'Enable account',
  'act.key.prepare': 'Prepare signing key rotation', 'act.key.commit': 'Rotate signing key',

  'users.new': 'Create an account', 'users.list': 'Accounts', 'users.username': 'Username', 'users.usernameHint': 'Lowercase, digits, dots, e.g. an.nguyen',
  'users.name': 'Full name', 'users.role': 'Role', 'users.area': 'Area', 'users.allAreas': 'All areas',
  'users.password': 'Password (leave empty to generate one)', 'users.passwordHint': 'At least 10 characters.', 'users.create': 'Create account',
  'users.created': 'Account {0} created.', 'users.generated': 'Password (shown only once; write it down and hand it over):',
  'users.status': 'Status', 'users.active': 'Active', 'users.disabled': 'Disabled', 'users.disable': 'Disable',
  'users.enable': 'Enable', 'users.confirmDisable': 'Disable the account {0}? They will no longer be able to log in.',
  'users.badUsername': 'A username holds lowercase letters, digits, “.”, “_”, “-”.', 'users.noName': 'Enter the full name.',
};

const tables = { vi, en };
let current = (() => { try { return localStorage.getItem('radio.lang') === 'en' ? 'en' : 'vi'; } catch { return 'vi'; } })();

export function lang() { return current; }

export function setLang(l) {
  current = l === 'en' ? 'en' : 'vi';
  try { localStorage.setItem('radio.lang', current); } catch { /* private mode: not remembered */ }
}

export function t(key, ...args) {
  const s = tables[current][key] ?? vi[key];
  if (s === undefined) return key;
  return s.replace(/\{(\d)\}/g, (_, i) => (args[i] ?? ''));
}

// applyStatic translates the fixed parts of index.html (data-i18n).
export function applyStatic() {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

export const keys = { vi: Object.keys(vi), en: Object.keys(en) };
